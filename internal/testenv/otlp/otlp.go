// Package otlp runs the OpenTelemetry Collector's own OTLP receiver (gRPC and HTTP) on loopback
// ports for tests, and keeps the spans it receives.
package otlp

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

// Receiver is a running OTLP receiver.
type Receiver struct {
	// GRPC is its OTLP/gRPC address (host:port); HTTPURL its OTLP/HTTP base URL.
	GRPC, HTTPURL string

	sink *consumertest.TracesSink
}

// Span is one received span, flattened for assertions.
type Span struct {
	Name, TraceID, ParentSpanID, SpanID, Kind string
	Attributes                                map[string]string
	Resource                                  map[string]string
}

// Start runs the collector's OTLP receiver with both protocols on; it stops with the test.
func Start(t testing.TB) *Receiver {
	t.Helper()
	r, stop, err := Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return r
}

// Listen runs the receiver until stop is called (for programs other than tests: make bench).
func Listen() (_ *Receiver, stop func() error, _ error) {
	grpcAddr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
	g := cfg.Protocols.GRPC.GetOrInsertDefault()
	g.NetAddr.Endpoint = grpcAddr
	h := cfg.Protocols.HTTP.GetOrInsertDefault()
	h.ServerConfig.NetAddr.Endpoint = httpAddr
	r := &Receiver{GRPC: grpcAddr, HTTPURL: "http://" + httpAddr, sink: new(consumertest.TracesSink)}
	rcv, err := f.CreateTraces(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, r.sink)
	if err != nil {
		return nil, nil, fmt.Errorf("otlp receiver: %w", err)
	}
	if err := rcv.Start(context.Background(), componenttestHost{}); err != nil {
		return nil, nil, fmt.Errorf("otlp receiver: start: %w", err)
	}
	return r, func() error {
		if err := rcv.Shutdown(context.Background()); err != nil {
			return fmt.Errorf("otlp receiver: shutdown: %w", err)
		}
		return nil
	}, nil
}

// Count is how many spans have arrived.
func (r *Receiver) Count() int { return r.sink.SpanCount() }

// Spans returns every span received so far.
func (r *Receiver) Spans() []Span {
	var out []Span
	for _, td := range r.sink.AllTraces() {
		for _, rs := range td.ResourceSpans().All() {
			res := map[string]string{}
			for k, v := range rs.Resource().Attributes().All() {
				res[k] = v.AsString()
			}
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					out = append(out, flatten(s, res))
				}
			}
		}
	}
	return out
}

// WaitSpans waits until n spans have arrived (exporters batch: a few seconds) and returns them.
func (r *Receiver) WaitSpans(t testing.TB, n int, within time.Duration) []Span {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		spans := r.Spans()
		if len(spans) >= n {
			return spans
		}
		if time.Now().After(deadline) {
			t.Fatalf("otlp receiver: %d spans after %s, want %d", len(spans), within, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func flatten(s ptrace.Span, res map[string]string) Span {
	attrs := map[string]string{}
	for k, v := range s.Attributes().All() {
		attrs[k] = v.AsString()
	}
	parent := ""
	if !s.ParentSpanID().IsEmpty() {
		parent = s.ParentSpanID().String()
	}
	return Span{Name: s.Name(), TraceID: s.TraceID().String(), SpanID: s.SpanID().String(), ParentSpanID: parent,
		Kind: s.Kind().String(), Attributes: attrs, Resource: res}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port), nil
}

// componenttestHost is the host a receiver runs in: no extensions.
type componenttestHost struct{}

func (componenttestHost) GetExtensions() map[component.ID]component.Component { return nil }
