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
		v, _ := a.inForce.current().verifier.(metrics.CacheStatser)
		return v
	})
	metrics.RegisterKeyAge(a.registry, func() (map[string]time.Time, time.Duration, bool) {
		st := a.inForce.current()
		if len(st.keys) == 0 || st.settings == nil {
			return nil, 0, false
		}
		last := make(map[string]time.Time, len(st.keys))
		for _, k := range st.keys {
			last[k.Name()] = k.LastSuccess()
		}
		return last, st.settings.JWKSRefreshInterval, true
	})
}

// tlsMetrics registers the gRPC TLS metrics (only when TLS is on).
func (a *app) tlsMetrics() *metrics.TLS { return metrics.NewTLS(a.registry) }
