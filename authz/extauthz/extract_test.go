package extauthz

import (
	"context"
	"fmt"
	"slices"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/betterauthz/betterauthz/authz"

	"github.com/betterauthz/betterauthz/internal/tracing"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestRawHeaderMap(t *testing.T) {
	// With encode_raw_headers Envoy sends header_map (values as bytes) instead of headers.
	req := httpCheck("GET", "h", "/", nil)
	req.Attributes.Request.Http.Headers = nil
	req.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: "authorization", RawValue: []byte("Bearer good")},
		{Key: "x-user-id", RawValue: []byte("spoofed")},
	}}
	r, err := Extract(req)
	if err != nil {
		t.Fatal(err)
	}
	d := authz.Decide(context.Background(), testLive(fakeVerifier{"good": claims(`{"sub":"u"}`)}), r)
	if d.Reason != authz.ReasonAllowed || !slices.Contains(d.Set, authz.Header{Name: "x-user-id", Value: "u"}) {
		t.Fatalf("decision %+v", d)
	}

	// Two Authorization headers are refused, not guessed between.
	req.Attributes.Request.Http.HeaderMap.Headers = append(req.Attributes.Request.Http.HeaderMap.Headers,
		&corev3.HeaderValue{Key: "authorization", RawValue: []byte("Bearer good")})
	r, _ = Extract(req)
	if d := authz.Decide(context.Background(), testLive(fakeVerifier{}), r); d.Reason != authz.ReasonInvalidToken {
		t.Fatalf("two Authorization headers: %s", d.Reason)
	}
}

func TestExtractRefusesRequestsWithoutHTTP(t *testing.T) {
	for name, req := range map[string]*authv3.CheckRequest{
		"nil":        nil,
		"empty":      {},
		"no request": {Attributes: &authv3.AttributeContext{}},
		"no http":    {Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{}}},
	} {
		if _, err := Extract(req); err == nil {
			t.Errorf("%s: extracted", name)
		}
	}
}

func TestDestinationNamespace(t *testing.T) {
	req := httpCheck("GET", "orders", "/", nil)
	req.Attributes.Destination = &authv3.AttributeContext_Peer{Principal: "spiffe://cluster.local/ns/shop/sa/orders"}
	r, err := Extract(req)
	if err != nil || r.DestinationNamespace != "shop" {
		t.Fatalf("%q %v", r.DestinationNamespace, err)
	}
	for _, p := range []string{"", "spiffe://cluster.local", "spiffe://td/ns", "https://x/ns/a"} {
		if got := spiffeNamespace(p); got != "" {
			t.Errorf("spiffeNamespace(%q) = %q", p, got)
		}
	}
}

// The outcome table's codes are gRPC's: authz speaks no gRPC, so they are its own numbers.
func TestCodesAreGRPCCodes(t *testing.T) {
	for have, want := range map[authz.Code]codes.Code{
		authz.CodeOK: codes.OK, authz.CodeInvalidArgument: codes.InvalidArgument, authz.CodePermissionDenied: codes.PermissionDenied,
		authz.CodeInternal: codes.Internal, authz.CodeUnavailable: codes.Unavailable, authz.CodeUnauthenticated: codes.Unauthenticated,
	} {
		if codes.Code(have) != want {
			t.Errorf("authz code %d is not %s", have, want)
		}
	}
}

func benchRequest(path string) *authv3.CheckRequest {
	return httpCheck("GET", "api.example.com:443", path, map[string]string{
		"authorization":   "Bearer good",
		"user-agent":      "Mozilla/5.0",
		"accept":          "application/json",
		"accept-encoding": "gzip, br",
		"x-request-id":    "0f8fad5b-d9cb-469f-a165-70867728950e",
		"x-forwarded-for": "203.0.113.9",
		"cookie":          "theme=dark",
		"x-user-id":       "spoofed",
	})
}

// BenchmarkCheck: one Check through extract, decide and render, with the token's claims
// already verified (as on a cache hit): betterauthz's own cost on top of the verifier.
func BenchmarkCheck(b *testing.B) {
	v := fakeVerifier{"good": claims(`{"sub":"u1","email":"a@example.com","name":"Alice","role":"admin,user","emailVerified":true}`)}
	svc := NewServer(authz.NewAuthorizer(testLive(v), nil))
	req := benchRequest("/api/orders?page=2")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, _ := svc.Check(ctx, req)
		if resp.GetOkResponse() == nil {
			b.Fatal("denied")
		}
	}
}

// An allowed Check allocates one block — the answer, with the request and the decision's
// scratch memory in it — and nothing else when the claims are at hand.
func TestCheckAllocatesOnlyTheAnswer(t *testing.T) {
	v := fakeVerifier{"good": claims(`{"sub":"u1","email":"a@example.com","name":"Alice","role":"admin,user","emailVerified":true}`)}
	svc := NewServer(authz.NewAuthorizer(testLive(v), nil))
	req := benchRequest("/api/orders?page=2")
	ctx := context.Background()
	if n := testing.AllocsPerRun(200, func() { _, _ = svc.Check(ctx, req) }); n != 1 {
		t.Errorf("Check: %v allocations, want 1", n)
	}
}

// An allowed Check strips a client's underscore spellings of the identity headers too (a CGI
// or WSGI upstream reads x_user_id as x-user-id), in its one block or, with more identity
// headers than fit there, apart.
func TestCheckRemovesUnderscoreSpellings(t *testing.T) {
	v := fakeVerifier{"good": claims(`{"sub":"u1","email":"a@example.com","name":"Alice"}`)}
	many := testLive(v)
	for i := range 10 {
		many.Config.IdentityHeaders = append(many.Config.IdentityHeaders, authz.IdentityHeader{Name: fmt.Sprintf("x-z-%d", i), Claim: "sub"})
	}
	for name, tc := range map[string]struct {
		live *authz.Snapshot
		want []string
	}{
		"fits": {testLive(v), []string{"x-user-org", "x_user_email", "x_user_id", "x_user_name", "x_user_org"}},
		"many": {many, []string{"x-user-org", "x_user_email", "x_user_id", "x_user_name", "x_user_org", "x_z_0", "x_z_1", "x_z_2", "x_z_3", "x_z_4", "x_z_5", "x_z_6", "x_z_7", "x_z_8", "x_z_9"}},
	} {
		t.Run(name, func(t *testing.T) {
			svc := NewServer(authz.NewAuthorizer(tc.live, nil))
			resp, _ := svc.Check(context.Background(), benchRequest("/api/orders"))
			if got := resp.GetOkResponse().GetHeadersToRemove(); !slices.Equal(got, tc.want) {
				t.Errorf("headers_to_remove %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkCheckTracing: BenchmarkCheck with tracing off (no tracer: what every check pays
// when no OTLP endpoint is set), and on, sampled and exported (to a discarding exporter) or
// not sampled (the parent said so).
func BenchmarkCheckTracing(b *testing.B) {
	v := fakeVerifier{"good": claims(`{"sub":"u1","email":"a@example.com","name":"Alice","role":"admin,user","emailVerified":true}`)}
	for _, tc := range []struct {
		name        string
		tracer      authz.Tracer
		traceparent string
	}{
		{"off", nil, ""},
		{"on sampled", tracing.NewWithProvider(sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{"on not sampled", tracing.NewWithProvider(sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			a := authz.NewAuthorizer(testLive(v), nil)
			if tc.tracer != nil {
				a.Tracer = tc.tracer
			}
			svc := NewServer(a)
			req := benchRequest("/api/orders?page=2")
			if tc.traceparent != "" {
				req.Attributes.Request.Http.Headers["traceparent"] = tc.traceparent
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				resp, _ := svc.Check(ctx, req)
				if resp.GetOkResponse() == nil {
					b.Fatal("denied")
				}
			}
		})
	}
}

// discard is a span exporter that drops every span.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkHandler: BenchmarkCheck through the gRPC method handler, the CheckRequest read by
// the codec from its wire bytes and the answer encoded by it, as gRPC sends it.
func BenchmarkHandler(b *testing.B) {
	v := fakeVerifier{"good": claims(`{"sub":"u1","email":"a@example.com","name":"Alice","role":"admin,user","emailVerified":true}`)}
	svc := NewServer(authz.NewAuthorizer(testLive(v), nil))
	wire, err := proto.Marshal(benchRequest("/api/orders?page=2"))
	if err != nil {
		b.Fatal(err)
	}
	codec := checkCodec{encoding.GetCodecV2(grpcproto.Name)}
	bufs := mem.BufferSlice{mem.SliceBuffer(wire)}
	dec := func(m any) error { return codec.Unmarshal(bufs, m) }
	ctx := context.Background()
	resp, _ := checkHandler(svc, ctx, dec, nil)
	out, err := codec.Marshal(resp)
	var answer authv3.CheckResponse
	if err != nil || proto.Unmarshal(out.Materialize(), &answer) != nil || answer.GetOkResponse() == nil {
		b.Fatal("denied")
	}
	b.ReportAllocs()
	for b.Loop() {
		resp, _ := checkHandler(svc, ctx, dec, nil)
		out, err := codec.Marshal(resp)
		if err != nil {
			b.Fatal(err)
		}
		out.Free()
	}
}
