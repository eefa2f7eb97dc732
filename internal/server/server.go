// Package server wires betterauthz together: config, key set, ext_authz gRPC service, health,
// metrics, and an orderly shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/metrics"
	"github.com/betterauthz/betterauthz/jwks"
)

// Options configure Run. Zero values take the documented defaults.
type Options struct {
	// ConfigPath is a YAML config file, watched and hot-reloaded; empty means defaults plus
	// $BETTER_AUTH_URL.
	ConfigPath string
	// GRPCAddr serves ext_authz and grpc.health.v1. Default ":9000".
	GRPCAddr string
	// HTTPAddr serves /healthz, /readyz and /metrics. Default ":8080".
	HTTPAddr string
	// ShutdownDelay is how long the server keeps answering, not ready, after it is told to stop,
	// so that Envoy and Kubernetes stop sending before connections close. Default 0.
	ShutdownDelay time.Duration
	// ShutdownTimeout bounds the graceful drain of in-flight checks. Default 20s.
	ShutdownTimeout time.Duration
	// LogDecisions is all, deny or none. Default all.
	LogDecisions string
	// Logger receives JSON logs. Default: discard.
	Logger *slog.Logger
	// Getenv reads the environment (BETTER_AUTH_URL). Default os.Getenv.
	Getenv func(string) string
	// Listening, when set, is called with the bound addresses once both listeners are open.
	Listening func(grpcAddr, httpAddr net.Addr)
}

func (o *Options) setDefaults() {
	if o.GRPCAddr == "" {
		o.GRPCAddr = ":9000"
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = ":8080"
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.LogDecisions == "" {
		o.LogDecisions = LogDecisionsAll
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
	log := o.Logger
	switch o.LogDecisions {
	case LogDecisionsAll, LogDecisionsDeny, LogDecisionsNone:
	default:
		return fmt.Errorf("--log-decisions %q: want all, deny or none", o.LogDecisions)
	}

	var data []byte
	if o.ConfigPath != "" {
		var err error
		if data, err = os.ReadFile(o.ConfigPath); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)

	// Key sets outlive ctx until the drain ends: in-flight checks may still need keys.
	background, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	eng := newEngine(background, log, m, o.Getenv, &decisionObserver{log: log, mode: o.LogDecisions, metrics: m})
	defer eng.wait()
	ready := newReadiness(m, eng.keysLoaded)
	eng.onKeys = ready.update
	if err := eng.apply(configSource(o.ConfigPath), data); err != nil {
		return &ConfigError{Path: o.ConfigPath, Err: err}
	}
	svc := eng.service()
	svc.OnPanic = func(stack []byte) {
		log.Error("check panicked; answered 500", "stack", string(stack))
	}

	grpcLis, err := net.Listen("tcp", o.GRPCAddr)
	if err != nil {
		return fmt.Errorf("--grpc-addr: %w", err)
	}
	httpLis, err := net.Listen("tcp", o.HTTPAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("--http-addr: %w", err)
	}
	grpcServer := grpc.NewServer()
	authv3.RegisterAuthorizationServer(grpcServer, svc)
	healthpb.RegisterHealthServer(grpcServer, ready.grpc)
	httpServer := &http.Server{Handler: opsHandler(reg, ready), ReadHeaderTimeout: 5 * time.Second}
	log.Info("serving", "grpc_addr", grpcLis.Addr().String(), "http_addr", httpLis.Addr().String())
	if o.Listening != nil {
		o.Listening(grpcLis.Addr(), httpLis.Addr())
	}

	g, gctx := errgroup.WithContext(ctx)
	if o.ConfigPath != "" {
		g.Go(func() error {
			return watchFile(gctx, o.ConfigPath, data, log, func(b []byte) {
				_ = eng.apply("file", b) // a refused config is logged and counted by apply
			})
		})
	}
	g.Go(func() error { return grpcServer.Serve(grpcLis) })
	g.Go(func() error {
		if err := httpServer.Serve(httpLis); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down: not ready, draining", "delay", o.ShutdownDelay.String())
		ready.drain()
		if o.ShutdownDelay > 0 {
			time.Sleep(o.ShutdownDelay)
		}
		stopGRPC(grpcServer, o.ShutdownTimeout)
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = httpServer.Shutdown(sctx)
		stopBackground()
		log.Info("stopped")
		return nil
	})
	return g.Wait()
}

// stopGRPC lets in-flight checks finish, up to timeout.
func stopGRPC(s *grpc.Server, timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		s.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		s.Stop()
	}
}

func opsHandler(reg *prometheus.Registry, ready *readiness) http.Handler {
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
	return mux
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

func newVerifier(s *config.Settings, keys *jwks.KeySet) (*jwks.Verifier, error) {
	return jwks.NewVerifier(jwks.VerifierOptions{
		Keys:       keys,
		Issuer:     s.Issuer,
		Audiences:  s.Audiences,
		Algorithms: s.Algorithms,
		ClockSkew:  s.ClockSkew,
	})
}

func configSource(path string) string {
	if path == "" {
		return "defaults"
	}
	return "file"
}

// fetchObserver feeds JWKS fetches to metrics and readiness.
type fetchObserver struct {
	m       *metrics.Metrics
	changed func()
}

func (f fetchObserver) JWKSFetched(x jwks.Fetch) {
	f.m.JWKSFetched(x)
	f.changed()
}

// DefaultShutdownTimeout bounds the drain of in-flight checks.
const DefaultShutdownTimeout = 20 * time.Second
