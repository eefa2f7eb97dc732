package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/authz/extauthz"
	"github.com/betterauthz/betterauthz/internal/metrics"
	"github.com/betterauthz/betterauthz/internal/tracing"
)

// app is one betterauthz process: built by newApp from small constructors, run by run.
type app struct {
	o   Options
	log *slog.Logger

	registry   *prometheus.Registry
	metrics    *metrics.Metrics
	authorizer *authz.Authorizer
	inbox      *inbox
	inForce    *inForce
	reloader   *reloader
	ready      *readiness

	// Kubernetes sources; nil without the Kubernetes API.
	kube *kubeSources
	// stopTracing flushes the spans still buffered (a no-op when tracing is off).
	stopTracing func(context.Context) error

	// Key sets outlive the serving context until the drain ends: in-flight checks may still
	// need keys.
	background     context.Context
	stopBackground context.CancelFunc

	grpcListener, httpListener, checkListener net.Listener
	grpcServer                                *grpc.Server
	httpServer                                *http.Server
	checkServer                               *http.Server // nil when off
}

// newApp builds the process in the order its parts need each other: each constructor is
// handed what it works with, so that none can be built before its collaborators exist.
func newApp(ctx context.Context, o Options) (_ *app, err error) {
	a := &app{o: o, log: o.Logger, stopTracing: func(context.Context) error { return nil }}
	a.background, a.stopBackground = context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	a.newMetrics()
	a.authorizer = authz.NewAuthorizer(nil, &decisionObserver{log: a.log, mode: o.LogDecisions, metrics: a.metrics})
	a.authorizer.OnPanic = func(stack []byte) { a.log.Error("check panicked; answered 500", "stack", string(stack)) }
	a.inbox, a.inForce = newInbox(a.background), new(inForce)
	a.newOpsMetrics()
	if err := a.newTracing(); err != nil {
		return nil, err
	}
	if a.kube, err = newKubeSources(o, a.log, a.metrics, a.inbox); err != nil {
		return nil, err
	}
	a.ready = newReadiness(a.metrics, readyConditions(o.ConfigMap, a.inForce, a.kube)...)
	a.reloader = newReloader(a.background, reloaderDeps{
		log: a.log, metrics: a.metrics, getenv: o.Getenv, authorizer: a.authorizer,
		inbox: a.inbox, inForce: a.inForce,
		changed:          a.ready.update,
		annotations:      a.kube.annotationSettings(),
		configMapRefused: a.kube.configMapRefused(),
	})
	if err := a.firstConfig(); err != nil {
		return nil, err
	}
	if err := a.listen(); err != nil {
		return nil, err
	}
	return a, nil
}

// newTracing turns tracing on when the OTEL_* variables name an OTLP endpoint.
func (a *app) newTracing() error {
	s, err := tracing.Read(a.o.Getenv)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	if s.Endpoint == "" {
		return nil
	}
	tracer, stop, err := tracing.New(a.background, s, a.o.Version)
	if err != nil {
		return err
	}
	a.authorizer.Tracer, a.stopTracing = tracer, stop
	a.log.Info("tracing on: a span per check", "endpoint", s.Endpoint, "protocol", s.Protocol)
	return nil
}

func (a *app) newMetrics() {
	a.registry = prometheus.NewRegistry()
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.metrics = metrics.New(a.registry)
}

// firstConfig applies the file, else (without a ConfigMap) the defaults and $BETTER_AUTH_URL.
// With only a ConfigMap, checks answer 503 until it arrives.
func (a *app) firstConfig() error {
	var doc document
	switch {
	case a.o.ConfigPath != "":
		var err error
		if doc, err = fileDocument(a.o.ConfigPath); err != nil {
			return err
		}
	case a.o.ConfigMap == "":
		doc = defaultsDocument()
	default:
		return nil
	}
	if err := a.reloader.apply(doc.source, doc.data); err != nil {
		return &ConfigError{Path: a.o.ConfigPath, Err: err}
	}
	a.ready.update()
	return nil
}

func (a *app) listen() error {
	var err error
	if a.grpcServer, err = a.newGRPCServer(); err != nil {
		return err
	}
	if a.grpcListener, err = listenGRPC(a.o.GRPCAddr); err != nil {
		return fmt.Errorf("--grpc-addr: %w", err)
	}
	if a.httpListener, err = net.Listen("tcp", a.o.HTTPAddr); err != nil {
		return fmt.Errorf("--http-addr: %w", err)
	}
	extauthz.NewServer(a.authorizer).Register(a.grpcServer)
	healthpb.RegisterHealthServer(a.grpcServer, a.ready.grpc)
	ops := opsHandler(a.registry, a.ready, routesHandler(a.inForce, a.kube.invalid), jwksRelay(a.inForce), a.o.Pprof)
	a.httpServer = &http.Server{Handler: ops, ReadHeaderTimeout: 5 * time.Second}
	if a.o.CheckHTTPAddr != "" {
		if a.checkListener, err = net.Listen("tcp", a.o.CheckHTTPAddr); err != nil {
			return fmt.Errorf("--check-http-addr: %w", err)
		}
		a.checkServer = newCheckServer(a.authorizer)
	}
	return nil
}

// run serves until ctx ends, then drains.
func (a *app) run(ctx context.Context) error {
	l := Listeners{GRPC: a.grpcListener.Addr(), HTTP: a.httpListener.Addr()}
	attrs := []any{"grpc_addr", l.GRPC.String(), "http_addr", l.HTTP.String()}
	if a.checkListener != nil {
		l.CheckHTTP = a.checkListener.Addr()
		attrs = append(attrs, "check_http_addr", l.CheckHTTP.String())
	}
	a.log.Info("serving", attrs...)
	if a.o.Listening != nil {
		a.o.Listening(l)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.reloader.run(gctx) })
	g.Go(func() error {
		select {
		case err := <-a.reloader.fatal:
			return &ConfigError{Path: "ConfigMap " + a.o.ConfigMap, Err: err}
		case <-gctx.Done():
			return nil
		}
	})
	if a.kube != nil {
		a.kube.run(g, a.background)
	}
	if a.o.ConfigPath != "" {
		g.Go(func() error { return a.watchConfigFile(gctx) })
	}
	g.Go(func() error { return a.grpcServer.Serve(a.grpcListener) })
	g.Go(func() error { return serveHTTP(a.httpServer, a.httpListener) })
	if a.checkServer != nil {
		g.Go(func() error { return serveHTTP(a.checkServer, a.checkListener) })
	}
	g.Go(func() error {
		<-gctx.Done()
		a.shutdown()
		return nil
	})
	return g.Wait()
}

func (a *app) watchConfigFile(ctx context.Context) error {
	doc, err := fileDocument(a.o.ConfigPath)
	if err != nil {
		doc = document{} // the watcher reports it
	}
	return watchFile(ctx, a.o.ConfigPath, doc.data, a.log, func(b []byte) {
		a.inbox.send(document{source: sourceFile, data: b})
	})
}

// shutdown: not ready at once, still answering for --shutdown-delay, then in-flight checks
// drain (up to --shutdown-timeout).
func (a *app) shutdown() {
	a.log.Info("shutting down: not ready, draining", "delay", a.o.ShutdownDelay.String())
	a.ready.drain()
	if a.o.ShutdownDelay > 0 {
		time.Sleep(a.o.ShutdownDelay)
	}
	drained := make(chan struct{})
	go func() { // the HTTP check endpoint drains alongside gRPC
		defer close(drained)
		if a.checkServer != nil {
			sctx, cancel := context.WithTimeout(context.Background(), a.o.ShutdownTimeout)
			defer cancel()
			_ = a.checkServer.Shutdown(sctx)
		}
	}()
	stopGRPC(a.grpcServer, a.o.ShutdownTimeout)
	<-drained
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.httpServer.Shutdown(sctx)
	a.flushTraces()
	a.stopBackground()
	a.log.Info("stopped")
}

// flushTraces sends the spans still buffered, within tracing.ShutdownTimeout.
func (a *app) flushTraces() {
	ctx, cancel := context.WithTimeout(context.Background(), tracing.ShutdownTimeout)
	defer cancel()
	if err := a.stopTracing(ctx); err != nil {
		a.log.Warn("tracing: spans not flushed at exit", "error", err.Error())
	}
	a.stopTracing = func(context.Context) error { return nil }
}

// close releases what newApp acquired; key sets stop before it returns.
func (a *app) close() {
	a.flushTraces()
	a.stopBackground()
	if a.reloader != nil {
		a.reloader.wait()
	}
	a.kube.stop()
	if a.grpcServer != nil {
		a.grpcServer.Stop() // its stream workers run from NewServer on, served or not (idempotent)
	}
	for _, l := range []net.Listener{a.grpcListener, a.httpListener, a.checkListener} {
		if l != nil {
			l.Close()
		}
	}
}

func serveHTTP(s *http.Server, l net.Listener) error {
	if err := s.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
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
