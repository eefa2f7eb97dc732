package server

import (
	"log/slog"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/internal/metrics"
)

// NewDecisionObserver is the observer Run gives the authorizer, for tests outside the package.
func NewDecisionObserver(log *slog.Logger, mode string, m *metrics.Metrics) authz.Observer {
	return &decisionObserver{log: log, mode: mode, metrics: m}
}
