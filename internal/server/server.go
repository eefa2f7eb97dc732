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

	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/gcfloor"
	"github.com/betterauthz/betterauthz/internal/kube"
	"github.com/betterauthz/betterauthz/internal/settings"
)

// Options configure Run. The process settings are declared here once: each field's tags give
// its flag, its environment variable, its default (taken when the field is its zero value) and
// its help, and package settings makes of them serve's flags, --help and the docs' flag table
// (docs/reference/cli.md: make docs). The other fields are for callers that run the server
// in-process.
type Options struct {
	ConfigPath string `flag:"config" env:"BETTERAUTHZ_CONFIG" unset:"none" help:"YAML [config file](../configuration.md), watched and hot-reloaded. Without it: the defaults plus '$BETTER_AUTH_URL'."`
	GRPCAddr   string `flag:"grpc-addr" env:"BETTERAUTHZ_GRPC_ADDR" default:":9000" help:"ext_authz v3 and 'grpc.health.v1': host:port, or 'unix:///path.sock' for a [Unix socket](../grpc.md#unix-sockets) (a stale socket file from a killed process is replaced; the socket is removed on a clean stop)"`
	// GRPCMaxConnectionAge: negative is never (the flag's 0 becomes it).
	GRPCMaxConnectionAge      time.Duration `flag:"grpc-max-connection-age" env:"BETTERAUTHZ_GRPC_MAX_CONNECTION_AGE" default:"5m" help:"each gRPC connection ends with a GOAWAY after about this long (±10 % jitter), so Envoy's connections [spread over new replicas](../grpc.md#connections); '0' never"`
	GRPCMaxConnectionAgeGrace time.Duration `flag:"grpc-max-connection-age-grace" env:"BETTERAUTHZ_GRPC_MAX_CONNECTION_AGE_GRACE" default:"30s" help:"how long the checks in flight on an aged connection get to finish"`
	GRPCTLSCert               string        `flag:"grpc-tls-cert" env:"BETTERAUTHZ_GRPC_TLS_CERT" unset:"plaintext" help:"PEM certificate (chain) of the gRPC port, which then speaks [TLS](../grpc.md#tls-and-mtls) only; re-read when the file changes, for new connections"`
	GRPCTLSKey                string        `flag:"grpc-tls-key" env:"BETTERAUTHZ_GRPC_TLS_KEY" help:"PEM private key for '--grpc-tls-cert', re-read when the file changes"`
	GRPCClientCA              string        `flag:"grpc-client-ca" env:"BETTERAUTHZ_GRPC_CLIENT_CA" help:"PEM CAs of accepted client certificates: mTLS, a client without one is refused (needs '--grpc-tls-cert'); re-read when the file changes"`
	HTTPAddr                  string        `flag:"http-addr" env:"BETTERAUTHZ_HTTP_ADDR" default:":8080" help:"'/healthz', '/readyz', '/metrics', '/debug/routes' and '/jwks' (the signing keys, for [sidecars](../jwks.md#sidecars-fetch-the-keys-from-a-central-betterauthz))"`
	CheckHTTPAddr             string        `flag:"check-http-addr" env:"BETTERAUTHZ_CHECK_HTTP_ADDR" unset:"off" help:"the [HTTP check endpoint](../proxies/index.md#the-http-check-mode) for nginx, ingress-nginx, Traefik, Caddy and Envoy's 'http_service'"`
	GRPCMaxRequestBytes       int           `flag:"grpc-max-request-bytes" env:"BETTERAUTHZ_GRPC_MAX_REQUEST_BYTES" default:"4194304" help:"largest CheckRequest accepted; keep Envoy's 'with_request_body.max_request_bytes' plus headers under it (see [Limits](limits.md))"`
	LogLevel                  slog.Level    `flag:"log-level" env:"BETTERAUTHZ_LOG_LEVEL" default:"info" help:"'debug', 'info', 'warn', 'error' (JSON logs on stderr)"`
	LogDecisions              string        `flag:"log-decisions" env:"BETTERAUTHZ_LOG_DECISIONS" default:"deny" help:"one log line per decision: 'all', 'deny' (allowed requests cost no logging), 'none'"`
	ShutdownDelay             time.Duration `flag:"shutdown-delay" env:"BETTERAUTHZ_SHUTDOWN_DELAY" default:"0s" help:"on SIGTERM, keep answering (not ready) this long before draining, so that Envoy and Kubernetes stop sending first; set it to a few seconds in Kubernetes"`
	ShutdownTimeout           time.Duration `flag:"shutdown-timeout" env:"BETTERAUTHZ_SHUTDOWN_TIMEOUT" default:"20s" help:"longest wait for in-flight checks when stopping"`
	// GCHeapFloorMiB: negative is off (the flag's 0 becomes it).
	GCHeapFloorMiB    int    `flag:"gc-heap-floor-mib" env:"BETTERAUTHZ_GC_HEAP_FLOOR_MIB" default:"16" help:"while little memory is in use, let the heap grow to this many MiB (at most 1024) before the Go garbage collector runs: fewer collections under load, for a few MiB more (see [Sizing](../sizing.md#memory)); '0' keeps Go's defaults. Ignored when 'GOGC' is set; under 'GOMEMLIMIT' it is at most a quarter of it"`
	Pprof             bool   `flag:"pprof" env:"BETTERAUTHZ_PPROF" default:"false" help:"serve Go profiles under '/debug/pprof/' on the ops port (for performance investigations)"`
	ConfigMap         string `flag:"configmap" env:"BETTERAUTHZ_CONFIGMAP" unset:"none" help:"take the config from that ConfigMap's 'config.yaml', watched through the Kubernetes API; once it exists it wins over '--config'"`
	Kubeconfig        string `flag:"kubeconfig" env:"BETTERAUTHZ_KUBECONFIG" unset:"in-cluster" help:"how to reach the Kubernetes API (default: the pod's service account)"`
	WorkloadNamespace string `flag:"workload-namespace" env:"BETTERAUTHZ_WORKLOAD_NAMESPACE" unset:"none" help:"a sidecar's namespace (set it from the downward API): Kubernetes objects of other namespaces never decide its requests, and only its namespace is watched ([tenancy](../kubernetes.md#who-may-decide-for-what))"`

	// Logger receives JSON logs. Default: discard.
	Logger *slog.Logger
	// Getenv reads the environment (BETTER_AUTH_URL). Default os.Getenv.
	Getenv func(string) string
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
	o.GRPCMaxRequestBytes = max(o.GRPCMaxRequestBytes, 0) // negative: the default, as zero
	if err := settings.Defaults(o); err != nil {
		panic(err) // the tags above are wrong: a test catches it
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
}

// maxGCHeapFloorMiB bounds --gc-heap-floor-mib: the floor raises GOGC, and a collection that
// finds much more live than the last one did runs once under it before it is lowered again.
const maxGCHeapFloorMiB = 1024

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
	if o.GCHeapFloorMiB > maxGCHeapFloorMiB {
		return fmt.Errorf("--gc-heap-floor-mib %d: want at most %d", o.GCHeapFloorMiB, maxGCHeapFloorMiB)
	}
	gcfloor.Start(uint64(max(o.GCHeapFloorMiB, 0)) << 20) // negative: off
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
