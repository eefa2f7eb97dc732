// Package server wires betterauthz together: config sources, the reloader that applies them,
// key sets, the ext_authz gRPC service, health, metrics, and an orderly shutdown.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/betterauthz/betterauthz/authz/extauthz"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/kube"
)

// DefaultShutdownTimeout bounds the drain of in-flight checks.
const DefaultShutdownTimeout = 20 * time.Second

// Options configure Run. Zero values take the documented defaults.
type Options struct {
	// ConfigPath is a YAML config file, watched and hot-reloaded; empty means defaults plus
	// $BETTER_AUTH_URL.
	ConfigPath string
	// GRPCAddr serves ext_authz and grpc.health.v1: host:port, or unix:///path for a Unix
	// socket (a stale socket file from a killed process is replaced; the socket is removed on a
	// clean stop). Default ":9000".
	GRPCAddr string
	// GRPCMaxConnectionAge ends each gRPC connection with a GOAWAY after about this long (±10 %
	// jitter), so that long-lived Envoy connections spread over new replicas. Default 5m;
	// negative: never.
	GRPCMaxConnectionAge time.Duration
	// GRPCMaxConnectionAgeGrace is how long the checks in flight on an aged connection may take
	// to finish before it is closed. Default 30s.
	GRPCMaxConnectionAgeGrace time.Duration
	// GRPCTLSCert and GRPCTLSKey are PEM files of the gRPC port's certificate and key; set, the
	// port speaks TLS only. Re-read when they change, for new connections. Default "": plaintext.
	GRPCTLSCert, GRPCTLSKey string
	// GRPCClientCA is a PEM file of the CAs whose client certificates are accepted (mTLS: a
	// client without one is refused). Re-read when it changes. Default "": no client
	// certificate asked for.
	GRPCClientCA string
	// HTTPAddr serves /healthz, /readyz and /metrics. Default ":8080".
	HTTPAddr string
	// GRPCMaxRequestBytes is the largest CheckRequest accepted. Default
	// extauthz.DefaultMaxRequestBytes.
	GRPCMaxRequestBytes int
	// CheckHTTPAddr serves the HTTP check endpoint (/check, /envoy/...) for proxies that ask an
	// HTTP auth service. Default "": off.
	CheckHTTPAddr string
	// ShutdownDelay is how long the server keeps answering, not ready, after it is told to stop,
	// so that Envoy and Kubernetes stop sending before connections close. Default 0.
	ShutdownDelay time.Duration
	// ShutdownTimeout bounds the graceful drain of in-flight checks. Default 20s.
	ShutdownTimeout time.Duration
	// LogDecisions is all, deny or none. Default deny.
	LogDecisions string
	// Logger receives JSON logs. Default: discard.
	Logger *slog.Logger
	// Getenv reads the environment (BETTER_AUTH_URL). Default os.Getenv.
	Getenv func(string) string
	// ConfigMap, "NAMESPACE/NAME", is watched through the Kubernetes API; its config.yaml takes
	// precedence over ConfigPath once it exists.
	ConfigMap string
	// Kubeconfig is used to reach the Kubernetes API; empty means the pod's service account
	// (when running in a cluster).
	Kubeconfig string
	// WorkloadNamespace, when set, is the namespace of the one workload this betterauthz guards
	// (a sidecar): Kubernetes objects of other namespaces never decide its requests, and only
	// that namespace's objects are watched. Default "": every namespace (a gateway's
	// betterauthz).
	WorkloadNamespace string
	// Pprof serves net/http/pprof under /debug/pprof/ on the ops port. Default off.
	Pprof bool
	// CRDPoll is how often an absent Gateway API CRD is looked for. Default 30s.
	CRDPoll time.Duration
	// Listening, when set, is called with the bound addresses once every listener is open.
	Listening func(Listeners)
	// Version and Commit describe the build (betterauthz_build_info). Default "".
	Version, Commit string
}

// Listeners are the addresses the server listens on.
type Listeners struct {
	GRPC, HTTP net.Addr
	// CheckHTTP is nil when the HTTP check endpoint is off.
	CheckHTTP net.Addr
}

func (o *Options) setDefaults() {
	if o.GRPCAddr == "" {
		o.GRPCAddr = ":9000"
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = ":8080"
	}
	if o.GRPCMaxConnectionAge == 0 {
		o.GRPCMaxConnectionAge = DefaultMaxConnectionAge
	}
	if o.GRPCMaxConnectionAgeGrace == 0 {
		o.GRPCMaxConnectionAgeGrace = DefaultMaxConnectionAgeGrace
	}
	if o.GRPCMaxRequestBytes <= 0 {
		o.GRPCMaxRequestBytes = extauthz.DefaultMaxRequestBytes
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.LogDecisions == "" {
		o.LogDecisions = LogDecisionsDeny
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
}

// Run serves until ctx ends, then drains and returns nil. It returns an error at once for an
// invalid config or an address it cannot listen on.
func Run(ctx context.Context, o Options) error {
	o.setDefaults()
	switch o.LogDecisions {
	case LogDecisionsAll, LogDecisionsDeny, LogDecisionsNone:
	default:
		return fmt.Errorf("--log-decisions %q: want all, deny or none", o.LogDecisions)
	}
	if err := checkConnectionAge(&o); err != nil {
		return err
	}
	if ns := o.WorkloadNamespace; ns != "" {
		if err := kube.CheckNamespace(ns); err != nil {
			return fmt.Errorf("--workload-namespace: %w", err)
		}
	}
	a, err := newApp(ctx, o)
	if err != nil {
		return err
	}
	defer a.close()
	return a.run(ctx)
}

// ConfigError is an invalid config; its message lists every problem with its key.
type ConfigError struct {
	Path string
	Err  error
}

func (e *ConfigError) Error() string {
	msg := "invalid config"
	if e.Path != "" {
		msg += " " + e.Path
	}
	for _, p := range config.Problems(e.Err) {
		msg += "\n  " + p.Error()
	}
	return msg
}

func (e *ConfigError) Unwrap() error { return e.Err }
