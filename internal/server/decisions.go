package server

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/metrics"
	"github.com/betterauthz/betterauthz/internal/tracing"
)

// Decision log modes (--log-decisions).
const (
	LogDecisionsAll  = "all"
	LogDecisionsDeny = "deny"
	LogDecisionsNone = "none"
)

// decisionObserver logs one line per decision and counts it. It never logs headers, tokens or
// query strings: only the reason, the route, who (sub) and what (method, host, path).
type decisionObserver struct {
	log     *slog.Logger
	mode    string
	metrics *metrics.Metrics
}

func (o *decisionObserver) Decided(ctx context.Context, r *authz.Request, d *authz.Decision, elapsed time.Duration) {
	allowed := d.Allowed()
	o.metrics.Check(r.Transport, allowed, string(d.Reason), d.RouteLabel, elapsed)
	if d.DryRun {
		o.metrics.DryRunDenial(string(d.Reason), d.RouteLabel)
	}
	// A dry run's would-be denial is logged as a denial would be.
	if o.mode == LogDecisionsNone || (o.mode == LogDecisionsDeny && allowed && !d.DryRun) {
		return
	}
	if !o.log.Enabled(ctx, slog.LevelInfo) {
		return // --log-level above info: the line would be dropped, so its attributes are not built
	}
	decision := "deny"
	if allowed {
		decision = "allow"
	}
	attrs := []slog.Attr{
		slog.String("transport", r.Transport),
		slog.String("decision", decision),
		slog.String("reason", string(d.Reason)),
		slog.Int("status", d.HTTPStatus()),
		slog.String("route", policy.Clip(d.Route)),
	}
	if d.DryRun {
		attrs = append(attrs, slog.Bool("dry_run", true))
	}
	if r.ID != "" || r.Method != "" {
		attrs = append(attrs,
			slog.String("request_id", policy.Clip(r.ID)),
			slog.String("method", policy.Clip(r.Method)),
			slog.String("host", policy.Clip(r.Host)),
			slog.String("path", logPath(r.Path)))
	}
	if d.Credential != "" {
		attrs = append(attrs, slog.String("credential", d.Credential))
	}
	if d.Subject != "" {
		attrs = append(attrs, slog.String("subject", policy.Clip(d.Subject)))
	}
	if !allowed || d.DryRun {
		attrs = append(attrs, slog.String("description", policy.Clip(d.Description)))
	}
	if d.Detail != "" {
		attrs = append(attrs, slog.String("detail", clipDetail(d.Detail)))
	}
	if id := tracing.TraceID(ctx); id != "" {
		attrs = append(attrs, slog.String("trace_id", id))
	}
	attrs = append(attrs, slog.Float64("elapsed_ms", float64(elapsed.Microseconds())/1000))
	o.log.LogAttrs(ctx, slog.LevelInfo, "decision", attrs...)
}

// clipDetail bounds a detail (every problem of an invalid route's settings, each value in it
// already clipped by package policy) to a few lines.
func clipDetail(s string) string {
	if len(s) > 1024 {
		return strings.ToValidUTF8(s[:1024], "") + "…"
	}
	return s
}

// logPath drops the query (it can carry secrets) and bounds the length.
func logPath(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if len(p) > 256 {
		p = p[:256] + "…"
	}
	return p
}
