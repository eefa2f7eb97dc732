package cli

import (
	"context"
	"flag"
	"io"
	"log/slog"

	"k8s.io/klog/v2"

	"github.com/betterauthz/betterauthz/authz/extauthz"
	"github.com/betterauthz/betterauthz/internal/server"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("betterauthz serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o server.Options
	var level slog.Level
	fs.StringVar(&o.ConfigPath, "config", "", "YAML config file, watched and hot-reloaded (default: built-in defaults and $BETTER_AUTH_URL)")
	fs.StringVar(&o.ConfigMap, "configmap", "", "NAMESPACE/NAME of a ConfigMap whose config.yaml is the config, watched through the Kubernetes API")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file for the Kubernetes API (default: the pod's service account)")
	fs.StringVar(&o.WorkloadNamespace, "workload-namespace", "", "namespace of the one workload this betterauthz guards (a sidecar; set it from the downward API): Kubernetes objects of other namespaces never decide its requests")
	fs.StringVar(&o.GRPCAddr, "grpc-addr", ":9000", "address for ext_authz gRPC and grpc.health.v1: host:port, or unix:///path for a Unix socket")
	fs.DurationVar(&o.GRPCMaxConnectionAge, "grpc-max-connection-age", server.DefaultMaxConnectionAge, "end each gRPC connection (GOAWAY) after about this long, so Envoy's connections spread over new replicas; 0: never")
	fs.DurationVar(&o.GRPCMaxConnectionAgeGrace, "grpc-max-connection-age-grace", server.DefaultMaxConnectionAgeGrace, "time the checks in flight on an aged connection get to finish")
	fs.StringVar(&o.GRPCTLSCert, "grpc-tls-cert", "", "PEM certificate (chain) of the gRPC port: TLS only, re-read when the file changes (default: plaintext)")
	fs.StringVar(&o.GRPCTLSKey, "grpc-tls-key", "", "PEM private key for --grpc-tls-cert, re-read when the file changes")
	fs.StringVar(&o.GRPCClientCA, "grpc-client-ca", "", "PEM CAs of the accepted client certificates: mTLS, a client without one is refused (needs --grpc-tls-cert)")
	fs.StringVar(&o.HTTPAddr, "http-addr", ":8080", "address for /healthz, /readyz and /metrics")
	fs.StringVar(&o.CheckHTTPAddr, "check-http-addr", "", "address for the HTTP check endpoint (/check for nginx, Traefik, Caddy; /envoy/ for Envoy's http_service); default off")
	fs.IntVar(&o.GRPCMaxRequestBytes, "grpc-max-request-bytes", extauthz.DefaultMaxRequestBytes, "largest CheckRequest accepted; keep Envoy's with_request_body.max_request_bytes plus headers under it")
	fs.StringVar(&o.LogDecisions, "log-decisions", server.LogDecisionsDeny, "one log line per decision: all, deny (the default: allows cost nothing) or none")
	fs.TextVar(&level, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	fs.BoolVar(&o.Pprof, "pprof", false, "serve Go profiles under /debug/pprof/ on the ops address (for performance investigations)")
	fs.DurationVar(&o.ShutdownDelay, "shutdown-delay", 0, "on SIGTERM, keep serving (not ready) this long before draining, so endpoints are removed first")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout, "longest wait for in-flight checks when stopping")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if o.GRPCMaxConnectionAge == 0 {
		o.GRPCMaxConnectionAge = -1 // server.Options: negative is never, zero the default
	}
	o.Getenv = getenv
	o.Version, o.Commit = Version, commit()
	o.Logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	// client-go logs through klog: send it to the same JSON log.
	klog.SetSlogLogger(o.Logger.With("component", "client-go"))
	o.Logger.Info("starting", "version", VersionString())
	return server.Run(ctx, o)
}
