package server

import (
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/betterauthz/betterauthz/internal/metrics"
)

// authzServiceName is the ext_authz service as named in grpc.health.v1 requests.
const authzServiceName = "envoy.service.auth.v3.Authorization"

// readiness tracks whether checks can be answered: a config is in force, its sources have
// synced, signing keys are loaded and fresh, and the process is not draining. It feeds /readyz
// (evaluated on each request), grpc.health.v1 and a metric (updated on each event that can
// change it: the reloader's events and the drain).
type readiness struct {
	grpc       *health.Server
	metrics    *metrics.Metrics
	conditions []condition

	draining atomic.Bool
	mu       sync.Mutex // serialises updates so the last status set is the current one
}

// condition is one thing readiness waits for.
type condition struct {
	met      func() bool
	notReady string // why not, when not met
}

func newReadiness(m *metrics.Metrics, conditions ...condition) *readiness {
	r := &readiness{grpc: health.NewServer(), metrics: m, conditions: conditions}
	r.update()
	return r
}

// status says whether the server is ready and, if not, why.
func (r *readiness) status() (bool, string) {
	if r.draining.Load() {
		return false, "shutting down"
	}
	for _, c := range r.conditions {
		if !c.met() {
			return false, c.notReady
		}
	}
	return true, "ready"
}

// update publishes the current status; call it whenever an input changes.
func (r *readiness) update() {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok, _ := r.status()
	s := healthpb.HealthCheckResponse_NOT_SERVING
	if ok {
		s = healthpb.HealthCheckResponse_SERVING
	}
	r.grpc.SetServingStatus("", s)
	r.grpc.SetServingStatus(authzServiceName, s)
	r.metrics.Ready(ok)
}

// drain marks the server as going away: readiness fails from now on.
func (r *readiness) drain() {
	r.draining.Store(true)
	r.update()
	r.grpc.Shutdown()
}
