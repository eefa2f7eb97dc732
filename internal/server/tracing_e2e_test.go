package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/metadata"

	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/otlp"
)

// Trace contexts as Envoy and clients send them: W3C traceparent, and B3's multiple headers.
const (
	envoyTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	envoySpan   = "00f067aa0ba902b7"
	clientTrace = "0af7651916cd43dd8448eb211c80319c"
	clientSpan  = "b7ad6b7169203331"
	b3Trace     = "80f198ee56343ba864fe8b2a57d3eff7"
	b3Span      = "e457b5a2e4d86bd1"
)

// TestTracingToARealOTLPReceiver: with OTEL_EXPORTER_OTLP_ENDPOINT set, each check is a span
// exported to the OpenTelemetry Collector's OTLP receiver, over both OTLP protocols; its parent
// is Envoy's span from the gRPC metadata, else the request's traceparent or B3 headers; it
// carries the decision, the reason and the route; the decision log names its trace.
func TestTracingToARealOTLPReceiver(t *testing.T) {
	// The SDK reads its batching and resource from the process environment (betterauthz's own
	// reading, of whether and where to export, goes through Options.Getenv): export at once.
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(protocol, func(t *testing.T) {
			rcv := otlp.Start(t)
			endpoint := rcv.HTTPURL
			if protocol == "grpc" {
				endpoint = "http://" + rcv.GRPC
			}
			env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}
			r := run(t, baseConfig(ba)+`routes:
  - name: open
    paths: ["/open/**"]
    policy: public
`, func(o *server.Options) {
				o.Getenv = func(k string) string { return env[k] }
				o.CheckHTTPAddr = "127.0.0.1:0"
				o.Version = "v9.9.9-test"
			})
			r.waitReady(t, 10*time.Second)
			user, err := ba.Mint(betterauth.MintOptions{})
			if err != nil {
				t.Fatal(err)
			}
			check := func(md metadata.MD, path string, headers map[string]string) {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if md != nil {
					ctx = metadata.NewOutgoingContext(ctx, md)
				}
				if _, err := r.client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
					Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
						Method: "GET", Host: "api.example.com", Path: path, Headers: headers,
					}},
				}}); err != nil {
					t.Fatal(err)
				}
			}
			// 1. Envoy's span in the gRPC metadata wins over the request's own traceparent.
			check(metadata.Pairs("traceparent", "00-"+envoyTrace+"-"+envoySpan+"-01"), "/orders",
				map[string]string{"authorization": "Bearer " + user.Token, "traceparent": "00-" + clientTrace + "-" + clientSpan + "-01"})
			// 2. Without it, the request's traceparent.
			check(nil, "/orders", map[string]string{"traceparent": "00-" + clientTrace + "-" + clientSpan + "-01"})
			// 3. B3 headers.
			check(nil, "/open/x", map[string]string{"x-b3-traceid": b3Trace, "x-b3-spanid": b3Span, "x-b3-sampled": "1"})
			// 4. Nothing: a trace of its own.
			check(nil, "/orders", nil)
			// 5. The HTTP check mode: the proxy's call carries the trace context.
			resp, _ := r.ask(t, "GET", "/check", map[string]string{"X-Forwarded-Uri": "/orders", "X-Forwarded-Host": "api.example.com",
				"traceparent": "00-" + clientTrace + "-" + clientSpan + "-01"})
			if resp.StatusCode != 401 {
				t.Fatalf("/check: %d", resp.StatusCode)
			}

			spans := rcv.WaitSpans(t, 5, 15*time.Second)
			byParent := map[string]otlp.Span{}
			for _, s := range spans {
				if s.Name != "betterauthz.check" || s.Kind != "Server" {
					t.Errorf("span %q kind %s", s.Name, s.Kind)
				}
				if s.Resource["service.name"] != "betterauthz" || s.Resource["service.version"] != "v9.9.9-test" ||
					s.Resource["deployment.environment.name"] != "test" {
					t.Errorf("resource %v", s.Resource)
				}
				byParent[s.ParentSpanID+"/"+s.Attributes["betterauthz.transport"]] = s
			}
			want := func(key, trace, reason, route string) {
				t.Helper()
				s, ok := byParent[key]
				if !ok {
					t.Errorf("no span with parent %s among %v", key, spans)
					return
				}
				if trace != "" && s.TraceID != trace {
					t.Errorf("span %s: trace %s, want %s", key, s.TraceID, trace)
				}
				decision := "deny"
				if reason == "allowed" || reason == "public" {
					decision = "allow"
				}
				if s.Attributes["betterauthz.decision"] != decision || s.Attributes["betterauthz.reason"] != reason ||
					s.Attributes["betterauthz.route"] != route || s.Attributes["http.request.method"] != "GET" {
					t.Errorf("span %s: attributes %v", key, s.Attributes)
				}
			}
			want(envoySpan+"/grpc", envoyTrace, "allowed", "default")
			want(clientSpan+"/grpc", clientTrace, "missing_token", "default")
			want(b3Span+"/grpc", b3Trace, "public", "open")
			want("/grpc", "", "missing_token", "default")
			want(clientSpan+"/http", clientTrace, "missing_token", "default")

			logs := r.logs.String()
			for _, id := range []string{envoyTrace, clientTrace, b3Trace} {
				if !strings.Contains(logs, `"trace_id":"`+id+`"`) {
					t.Errorf("the decision log lacks trace_id %s", id)
				}
			}
			if !strings.Contains(logs, "tracing on: a span per check") {
				t.Error("tracing is not logged as on")
			}
		})
	}
}

// Off unless an endpoint is set; a bad setting stops start-up, naming the variable.
func TestTracingOffAndBadSettings(t *testing.T) {
	t.Parallel()
	r := run(t, baseConfig(ba), func(o *server.Options) {
		o.Getenv = func(k string) string { return map[string]string{"OTEL_SERVICE_NAME": "x"}[k] }
	})
	r.waitReady(t, 10*time.Second)
	if logs := r.logs.String(); strings.Contains(logs, "tracing on") || strings.Contains(logs, "trace_id") {
		t.Errorf("tracing on without an endpoint:\n%s", grepLines(logs, "trac"))
	}
	for env, want := range map[string]string{
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/json":      `OTEL_EXPORTER_OTLP_PROTOCOL="http/json": want grpc or http/protobuf`,
		"OTEL_TRACES_EXPORTER=zipkin":                `OTEL_TRACES_EXPORTER="zipkin": only otlp (or none) is supported`,
		"OTEL_EXPORTER_OTLP_ENDPOINT=collector:4317": `OTEL_EXPORTER_OTLP_ENDPOINT="collector:4317": want an http:// or https:// URL`,
	} {
		k, v, _ := strings.Cut(env, "=")
		vars := map[string]string{k: v, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
		if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			vars[k] = v
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := server.Run(ctx, server.Options{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Getenv: func(k string) string { return vars[k] }})
		cancel()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Run = %v, want %s", env, err, want)
		}
	}
}
