package server

import (
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/betterauthz/betterauthz/internal/metrics"
)

// opsHandler serves the ops port: health, readiness, metrics, the route table, the signing keys
// for sidecars, and (with --pprof) Go profiles.
func opsHandler(reg *prometheus.Registry, ready *readiness, routes, keys http.Handler, withPprof bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := ready.status()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(why + "\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("GET /debug/routes", routes)
	mux.Handle("GET /jwks", keys)
	mux.Handle("GET /jwks/{issuer}", keys)
	if withPprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	}
	return mux
}

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
