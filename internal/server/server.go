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
	"net/http/pprof"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/kube"
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
	// GRPCMaxRequestBytes is the largest CheckRequest accepted. Default
	// authz.DefaultMaxRequestBytes.
	GRPCMaxRequestBytes int
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
	// Pprof serves net/http/pprof under /debug/pprof/ on the ops port. Default off.
	Pprof bool
	// CRDPoll is how often an absent Gateway API CRD is looked for. Default 30s.
	CRDPoll time.Duration
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
	if o.GRPCMaxRequestBytes <= 0 {
		o.GRPCMaxRequestBytes = authz.DefaultMaxRequestBytes
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
	var cmNamespace, cmName string
	if o.ConfigMap != "" {
		var err error
		if cmNamespace, cmName, err = kube.ParseConfigMapRef(o.ConfigMap); err != nil {
			return fmt.Errorf("--configmap: %w", err)
		}
	}
	clients, err := kubeClients(o)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)

	// Key sets outlive ctx until the drain ends: in-flight checks may still need keys.
	background, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	eng := newEngine(background, log, m, o.Getenv, &decisionObserver{log: log, mode: o.LogDecisions, metrics: m})
	defer func() {
		stopBackground() // on every return, also an early one: key sets must stop before the wait
		eng.wait()
	}()
	eng.svc.OnPanic = func(stack []byte) {
		log.Error("check panicked; answered 500", "stack", string(stack))
	}

	conditions := []condition{{eng.hasConfig.Load, "no config yet (waiting for ConfigMap " + o.ConfigMap + ")"}}
	var cm *kube.ConfigMap
	fatal := make(chan error, 1)
	if o.ConfigMap != "" {
		cm = kube.NewConfigMap(clients, cmNamespace, cmName, log, &configMapHandler{eng: eng, m: m, log: log, ref: o.ConfigMap, fatal: fatal})
		conditions = append(conditions, condition{cm.Synced, "ConfigMap " + o.ConfigMap + " not synced yet"})
	}
	conditions = append(conditions, condition{eng.keysLoaded, "signing keys not loaded yet (is Better Auth reachable?)"},
		condition{eng.keysFresh, "signing keys stale: no successful JWKS refresh within maxKeyAge (is Better Auth reachable?)"})
	var ann *kube.Annotations
	invalidObjects := func() []string { return nil }
	if clients != nil {
		recorder, stopEvents := kube.NewEventRecorder(clients, log)
		defer stopEvents()
		ann = kube.NewAnnotations(clients, log, m, recorder, eng.setMesh, o.CRDPoll)
		eng.onSettings = func(s *config.Settings) { ann.Configure(s.Annotations) }
		conditions = append(conditions, condition{ann.Synced, "Kubernetes objects not listed yet (annotation policies)"})
		invalidObjects = ann.Invalid
	}
	ready := newReadiness(m, conditions...)
	eng.onKeys = ready.update

	// The first config: the file, else (without a ConfigMap) the defaults and $BETTER_AUTH_URL.
	// With only a ConfigMap, checks answer 503 until it arrives.
	if o.ConfigPath != "" || o.ConfigMap == "" {
		if err := eng.apply(configSource(o.ConfigPath), data); err != nil {
			return &ConfigError{Path: o.ConfigPath, Err: err}
		}
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
	grpcServer := grpc.NewServer(authz.ServerOptions(o.GRPCMaxRequestBytes)...)
	eng.svc.Register(grpcServer)
	healthpb.RegisterHealthServer(grpcServer, ready.grpc)
	ops := opsHandler(reg, ready)
	ops.Handle("GET /debug/routes", routesHandler(eng, invalidObjects))
	if o.Pprof {
		ops.HandleFunc("GET /debug/pprof/", pprof.Index)
		ops.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		ops.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		ops.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	}
	httpServer := &http.Server{Handler: ops, ReadHeaderTimeout: 5 * time.Second}
	log.Info("serving", "grpc_addr", grpcLis.Addr().String(), "http_addr", httpLis.Addr().String())
	if o.Listening != nil {
		o.Listening(grpcLis.Addr(), httpLis.Addr())
	}

	g, gctx := errgroup.WithContext(ctx)
	if cm != nil {
		g.Go(func() error { return cm.Run(background) })
		g.Go(func() error {
			select {
			case err := <-fatal:
				return err
			case <-gctx.Done():
				return nil
			}
		})
	}
	if ann != nil {
		g.Go(func() error { return ann.Run(background) })
	}
	g.Go(func() error {
		// Readiness inputs without their own signal (cache syncs) are picked up here.
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
				ready.update()
			}
		}
	})
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

func opsHandler(reg *prometheus.Registry, ready *readiness) *http.ServeMux {
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
		Keys:         keys,
		Issuer:       s.Issuer,
		Audiences:    s.Audiences,
		Algorithms:   s.Algorithms,
		ClockSkew:    s.ClockSkew,
		CacheEntries: s.CacheEntries,
		CacheBytes:   s.CacheBytes,
	})
}

func configSource(path string) string {
	if path == "" {
		return sourceDefaults
	}
	return sourceFile
}

// kubeClients connects to the Kubernetes API when the process needs it: for a ConfigMap, with
// an explicit kubeconfig, or (for annotation policies) when running in a pod. Outside a cluster
// without either flag there is nothing to connect to, and annotation policies are off.
func kubeClients(o Options) (*kube.Clients, error) {
	if o.ConfigMap == "" && o.Kubeconfig == "" && o.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		o.Logger.Info("no Kubernetes API (not in a pod, no --kubeconfig): annotation policies off")
		return nil, nil
	}
	c, err := kube.Connect(o.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	return c, nil
}

// configMapHandler applies the watched ConfigMap's config. A bad config when there is no good
// one yet stops the process (as a bad --config file does); later, the last good one stays.
type configMapHandler struct {
	eng   *engine
	m     *metrics.Metrics
	log   *slog.Logger
	ref   string
	fatal chan<- error
}

func (h *configMapHandler) ConfigMapChanged(data []byte) {
	if err := h.eng.apply(sourceConfigMap, data); err != nil {
		h.refused(err)
	}
}

func (h *configMapHandler) ConfigMapInvalid(err error) {
	h.m.ConfigLoaded(sourceConfigMap, err, time.Now())
	h.log.Error("config refused; the last good config stays in force", "source", sourceConfigMap, "problems", []string{err.Error()})
	h.refused(err)
}

func (h *configMapHandler) refused(err error) {
	if h.eng.hasConfig.Load() {
		return // logged and counted by apply; the last good config stays
	}
	select {
	case h.fatal <- &ConfigError{Path: "ConfigMap " + h.ref, Err: err}:
	default:
	}
}

func (h *configMapHandler) ConfigMapDeleted() {
	h.m.ConfigDeleted(sourceConfigMap)
	h.log.Error("ConfigMap deleted: the last good config stays in force until it is recreated", "configmap", h.ref)
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
