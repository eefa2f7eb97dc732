package server

import (
	"time"

	"github.com/betterauthz/betterauthz/internal/metrics"
)

// newOpsMetrics registers the metrics read from the state in force at scrape time: the build,
// the token cache of the verifier in force, and the age of the keys in force.
func (a *app) newOpsMetrics() {
	metrics.RegisterBuildInfo(a.registry, a.o.Version, a.o.Commit)
	metrics.RegisterTokenCache(a.registry, func() metrics.CacheStatser {
		v, _ := a.reloader.current().verifier.(metrics.CacheStatser)
		return v
	})
	metrics.RegisterKeyAge(a.registry, func() (time.Time, time.Duration, bool) {
		st := a.reloader.current()
		if st.keys == nil || st.settings == nil {
			return time.Time{}, 0, false
		}
		return st.keys.LastSuccess(), st.settings.JWKSRefreshInterval, true
	})
}

// tlsMetrics registers the gRPC TLS metrics (only when TLS is on).
func (a *app) tlsMetrics() *metrics.TLS { return metrics.NewTLS(a.registry) }
