package extauthz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/betterauthz/betterauthz/authz"
)

// envoyCheck is a CheckRequest as an Istio sidecar's Envoy sends one: peers with addresses,
// SPIFFE principals and a certificate, the request time, pseudo-headers and the usual headers,
// TLS session, context extensions and filter metadata (none of which betterauthz reads, all of
// which the lean decoder must validate as protobuf-go does).
func envoyCheck() *authv3.CheckRequest {
	meta, _ := structpb.NewStruct(map[string]any{"istio": map[string]any{"version": "1.28", "labels": []any{"a", 1.5, true, nil}}})
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{
			Address:     &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "10.0.3.7", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 51234}}}},
			Principal:   "spiffe://cluster.local/ns/web/sa/frontend",
			Certificate: "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n",
			Labels:      map[string]string{"app": "frontend"},
		},
		Destination: &authv3.AttributeContext_Peer{
			Address:   &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "10.0.5.2", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080}}}},
			Principal: "spiffe://cluster.local/ns/shop/sa/orders",
		},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(timestamppb.Now().AsTime().Truncate(1000)),
			Http: &authv3.AttributeContext_HttpRequest{
				Id: "12887512094376184811", Method: "GET", Path: "/api/orders?page=2", Host: "shop.example.com",
				Scheme: "https", Protocol: "HTTP/2", Size: -1,
				Headers: map[string]string{
					":authority": "shop.example.com", ":method": "GET", ":path": "/api/orders?page=2", ":scheme": "https",
					"authorization": "Bearer good", "user-agent": "Mozilla/5.0", "accept": "application/json",
					"x-request-id": "0f8fad5b-d9cb-469f-a165-70867728950e", "x-forwarded-proto": "https",
					"x-envoy-attempt-count": "1", "cookie": "theme=dark; better-auth.session_token=abc",
				},
			},
		},
		ContextExtensions: map[string]string{"betterauthz.io/policy": "authenticated"},
		MetadataContext: &corev3.Metadata{
			FilterMetadata:      map[string]*structpb.Struct{"istio_authn": meta},
			TypedFilterMetadata: map[string]*anypb.Any{"x": {TypeUrl: "type.googleapis.com/google.protobuf.Struct", Value: []byte{0x0a, 0x00}}},
		},
		TlsSession: &authv3.AttributeContext_TLSSession{Sni: "shop.example.com"},
	}}
}

// rawHeadersCheck is a CheckRequest as Envoy sends it with encode_raw_headers: header_map,
// repeated headers apart, values as raw bytes.
func rawHeadersCheck() *authv3.CheckRequest {
	req := httpCheck("GET", "h", "/", nil)
	req.Attributes.Request.Http.Headers = nil
	req.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: "authorization", RawValue: []byte("Bearer good")},
		{Key: "Cookie", RawValue: []byte("a=1")},
		{Key: "cookie", Value: "b=2"},
		{Key: "x-request-id", RawValue: []byte("raw-id")},
	}}
	return req
}

func leanSeeds() [][]byte {
	var seeds [][]byte
	add := func(m proto.Message) {
		b, err := proto.Marshal(m)
		if err != nil {
			panic(err)
		}
		seeds = append(seeds, b)
	}
	add(envoyCheck())
	add(rawHeadersCheck())
	add(benchRequest("/api/orders?page=2"))
	add(httpCheck("OPTIONS", "h", "/", map[string]string{"origin": "o", "access-control-request-method": "GET"}))
	add(&authv3.CheckRequest{})
	add(&authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{}}})
	// A message field sent twice is merged; a map key sent twice keeps its last value.
	a, _ := proto.Marshal(httpCheck("GET", "h", "/a", map[string]string{"authorization": "Bearer one", "x": "1"}))
	b, _ := proto.Marshal(httpCheck("", "", "/b", map[string]string{"authorization": "Bearer good"}))
	seeds = append(seeds, append(append([]byte(nil), a...), b...))
	// Invalid UTF-8 in a field betterauthz does not read.
	env, _ := proto.Marshal(envoyCheck())
	seeds = append(seeds, bytes.Replace(env, []byte("frontend"), []byte("front\xffnd"), 1))
	// An unknown field, a group among them.
	unknown := protowire.AppendTag(append([]byte(nil), env...), 999, protowire.StartGroupType)
	unknown = protowire.AppendTag(protowire.AppendVarint(protowire.AppendTag(unknown, 1, protowire.VarintType), 7), 999, protowire.EndGroupType)
	seeds = append(seeds, unknown)
	return seeds
}

// FuzzLeanDecode is the lean decoder's proof: for any bytes, it and protobuf-go (as gRPC's
// codec calls it) both refuse them, or both accept them and every field betterauthz reads is
// the same.
func FuzzLeanDecode(f *testing.F) {
	for _, s := range leanSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compareLean(t, data)
	})
}

// compareLean fails t unless the lean decoder reads data as protobuf-go does.
func compareLean(t *testing.T, data []byte) {
	t.Helper()
	var lean leanRequest
	leanErr := lean.decode(bytes.Clone(data))
	var full authv3.CheckRequest
	fullErr := proto.Unmarshal(data, &full)
	if errors.Is(leanErr, errLeanEntries) {
		return // left to protobuf-go by design (TestLeanDecodeLeavesManyHeadersToProtobuf)
	}
	if (leanErr == nil) != (fullErr == nil) {
		t.Fatalf("lean decoder: %v, protobuf-go: %v", leanErr, fullErr)
	}
	if fullErr != nil {
		return
	}
	var got, want authz.Request
	gotErr, wantErr := lean.request(&got), extract(&want, &full)
	if gotErr != wantErr {
		t.Fatalf("lean request: %v, extract: %v", gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	if got.ID != want.ID || got.Method != want.Method || got.Scheme != want.Scheme || got.Host != want.Host ||
		got.Path != want.Path || got.DestinationNamespace != want.DestinationNamespace || got.Transport != want.Transport {
		t.Fatalf("lean %+v\nfull %+v", got, want)
	}
	if p := full.GetAttributes().GetDestination().GetPrincipal(); lean.principal != p {
		t.Fatalf("principal %q, want %q", lean.principal, p)
	}
	if (got.ContextExtensions == nil) != (want.ContextExtensions == nil) || !maps.Equal(got.ContextExtensions, want.ContextExtensions) {
		t.Fatalf("context extensions %v, want %v", got.ContextExtensions, want.ContextExtensions)
	}
	names := []string{"authorization", "cookie", "x-request-id", "origin", "access-control-request-method", ""}
	h := full.GetAttributes().GetRequest().GetHttp()
	for k := range h.GetHeaders() {
		names = append(names, k)
	}
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		names = append(names, hv.GetKey(), strings.ToLower(hv.GetKey()))
	}
	for _, hv := range lean.headerMap {
		names = append(names, hv.key)
	}
	for _, name := range names {
		gv, gn := got.Header(name)
		wv, wn := want.Header(name)
		if gv != wv || gn != wn {
			t.Fatalf("header %q: %q ×%d, want %q ×%d", name, gv, gn, wv, wn)
		}
		if g, w := got.Values(name), want.Values(name); !slices.Equal(g, w) || (g == nil) != (w == nil) {
			t.Fatalf("values of %q: %q, want %q", name, g, w)
		}
	}
}

// The cases the fuzz test may take long to reach, each compared with protobuf-go.
func TestLeanDecodeAgreesWithProtobuf(t *testing.T) {
	tag := protowire.AppendTag
	http := func(fields []byte) []byte { // CheckRequest{attributes{request{http{fields}}}}
		b := protowire.AppendBytes(tag(nil, 2, protowire.BytesType), fields)
		b = protowire.AppendBytes(tag(nil, 4, protowire.BytesType), b)
		return protowire.AppendBytes(tag(nil, 1, protowire.BytesType), b)
	}
	str := func(num protowire.Number, s string) []byte {
		return protowire.AppendString(tag(nil, num, protowire.BytesType), s)
	}
	entry := func(num protowire.Number, parts ...[]byte) []byte {
		return protowire.AppendBytes(tag(nil, num, protowire.BytesType), bytes.Join(parts, nil))
	}
	cases := map[string][]byte{
		"path twice, last wins":              http(append(str(4, "/a"), str(4, "/b")...)),
		"header entry without a key":         http(entry(3, str(2, "v"))),
		"header entry without a value":       http(entry(3, str(1, "authorization"))),
		"header entry with its key twice":    http(entry(3, str(1, "x"), str(1, "authorization"), str(2, "Bearer good"))),
		"header key twice, last wins":        http(append(entry(3, str(1, "authorization"), str(2, "Bearer a")), entry(3, str(1, "authorization"), str(2, "Bearer b"))...)),
		"header entry with an unknown field": http(entry(3, protowire.AppendVarint(tag(nil, 9, protowire.VarintType), 1), str(1, "a"), str(2, "b"))),
		"header entry value as a varint":     http(entry(3, str(1, "a"), protowire.AppendVarint(tag(nil, 2, protowire.VarintType), 1))),
		"header map as a varint":             http(protowire.AppendVarint(tag(nil, 3, protowire.VarintType), 1)),
		"path as a varint":                   http(protowire.AppendVarint(tag(nil, 4, protowire.VarintType), 1)),
		"path as fixed32":                    http(protowire.AppendFixed32(tag(nil, 4, protowire.Fixed32Type), 1)),
		"path as a group":                    http(tag(tag(nil, 4, protowire.StartGroupType), 4, protowire.EndGroupType)),
		"an unmatched end group":             http(tag(nil, 4, protowire.EndGroupType)),
		"an end group in a header entry":     http(entry(3, tag(nil, 1, protowire.EndGroupType))),
		"invalid UTF-8 in the path":          http(str(4, "/\xff")),
		"invalid UTF-8 in a header key":      http(entry(3, str(1, "a\xff"), str(2, "b"))),
		"invalid UTF-8 in a raw value":       http(entry(13, entry(1, str(1, "cookie"), str(3, "\xff")))),
		"size packed":                        http(protowire.AppendBytes(tag(nil, 9, protowire.BytesType), []byte{1})),
		"field number 0":                     http(protowire.AppendVarint(nil, 0)),
		"field number too large":             http(protowire.AppendVarint(protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3), 1)),
		"truncated":                          http(str(4, "/abc"))[:10],
		"wire type 7":                        http(protowire.AppendVarint(nil, 4<<3|7)),
		"http empty":                         http(nil),
		"no http":                            protowire.AppendBytes(tag(nil, 1, protowire.BytesType), nil),
	}
	for i, s := range leanSeeds() {
		cases["seed "+string(rune('a'+i))] = s
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) { compareLean(t, data) })
	}
}

// A request with more headers than the lean decoder keeps is decoded by protobuf-go, and
// answered alike.
func TestLeanDecodeLeavesManyHeadersToProtobuf(t *testing.T) {
	v := fakeVerifier{"good": claims(`{"sub":"u1","email":"a@example.com"}`)}
	svc := NewServer(authz.NewAuthorizer(testLive(v), nil))
	codec := checkCodec{encoding.GetCodecV2(grpcproto.Name)}
	for _, n := range []int{leanMaxEntries - 8, leanMaxEntries + 1} {
		req := benchRequest("/api/orders")
		for i := range n - len(req.Attributes.Request.Http.Headers) {
			req.Attributes.Request.Http.Headers[fmt.Sprintf("x-%d", i)] = "v"
		}
		wire, _ := proto.Marshal(req)
		var lean leanRequest
		if err := lean.decode(wire); (err != nil) != (n > leanMaxEntries) {
			t.Errorf("%d headers: lean decoder %v", n, err)
		}
		resp, _ := checkHandler(svc, context.Background(), func(m any) error {
			return codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire)}, m)
		}, nil)
		out, err := codec.Marshal(resp)
		var answer authv3.CheckResponse
		if err != nil || proto.Unmarshal(out.Materialize(), &answer) != nil {
			t.Fatalf("%d headers: %v", n, err)
		}
		want, _ := svc.Check(context.Background(), req)
		if !proto.Equal(&answer, want) {
			t.Errorf("%d headers: answered %v, Check answers %v", n, &answer, want)
		}
	}
}

// deepCheck is a CheckRequest whose filter metadata nests lists (or, with structs, Structs)
// so that its messages nest exactly levels deep (at least 7), counted as protobuf-go counts
// them: a map entry is a level. inner is the innermost message's contents.
func deepCheck(levels int, structs bool, inner []byte) []byte {
	wrap := func(num protowire.Number, b []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), b)
	}
	key := func(k string) []byte { return wrap(1, []byte(k)) }
	b := inner // the message at level l
	for l := levels; l > 7; l-- {
		switch {
		case !structs && (l-7)%2 == 0, structs && l == 9: // a Value in a ListValue's values
			b = wrap(1, b)
		case !structs || l == 8: // a ListValue as a Value's list_value
			b = wrap(6, b)
		case (l-10)%3 == 0: // a Struct as a Value's struct_value
			b = wrap(5, b)
		case (l-10)%3 == 1: // an entry in a Struct's fields
			b = wrap(1, b)
		default: // a Value as an entry's value, the entry without a key
			b = wrap(2, b)
		}
	}
	b = wrap(1, append(key("k"), wrap(2, b)...)) // 7 Value in 6 Struct.fields' entry in 5 Struct
	b = wrap(1, append(key("f"), wrap(2, b)...)) // in 4 filter_metadata's entry in 3 Metadata
	return wrap(1, wrap(11, b))                  // in 2 AttributeContext.metadata_context in 1 CheckRequest
}

// protobuf-go's recursion limit, at its edge: nested messages, and a map field one level
// deeper than the limit allows, whose depth protobuf-go counts before it looks at the wire
// type (here a varint, which it would otherwise skip as unknown).
func TestLeanDecodeRecursionLimit(t *testing.T) {
	mapAsVarint := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 0)
	for _, tc := range []struct {
		levels  int
		structs bool
		inner   []byte
	}{
		{leanRecursionLimit - 1, false, nil}, {leanRecursionLimit, false, nil}, {leanRecursionLimit + 1, false, nil},
		{leanRecursionLimit - 1, true, nil}, {leanRecursionLimit, true, nil}, {leanRecursionLimit + 1, true, nil},
		{leanRecursionLimit - 3, true, mapAsVarint}, {leanRecursionLimit, true, mapAsVarint},
	} {
		data := deepCheck(tc.levels, tc.structs, tc.inner)
		var full authv3.CheckRequest
		fullErr := proto.Unmarshal(data, &full)
		var lean leanRequest
		leanErr := lean.decode(bytes.Clone(data))
		if (fullErr == nil) != (leanErr == nil) {
			t.Errorf("%+v: lean decoder %v, protobuf-go %v", tc, leanErr, fullErr)
		}
		t.Logf("%d levels (structs %v, inner %x): protobuf-go %v", tc.levels, tc.structs, tc.inner, fullErr)
	}
}

// TestLeanSchema pins what the lean decoder assumes of every message a CheckRequest holds:
// proto3 (strings are checked for UTF-8, enums are open, no groups), no lazy fields.
func TestLeanSchema(t *testing.T) {
	seen := map[protoreflect.FullName]bool{}
	var walk func(md protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] {
			return
		}
		seen[md.FullName()] = true
		if md.ParentFile().Syntax() != protoreflect.Proto3 {
			t.Errorf("%s is %s, not proto3: its strings' UTF-8 rule may differ", md.FullName(), md.ParentFile().Syntax())
		}
		fields := md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			if fd.Kind() == protoreflect.GroupKind {
				t.Errorf("%s is a group", fd.FullName())
			}
			if l, ok := fd.(interface{ IsLazy() bool }); ok && l.IsLazy() {
				t.Errorf("%s is lazy", fd.FullName())
			}
			if fd.Message() != nil {
				walk(fd.Message())
			}
		}
	}
	walk((*authv3.CheckRequest)(nil).ProtoReflect().Descriptor())
	t.Logf("%d message types", len(seen))
}

// BenchmarkLeanDecode against protobuf-go's Unmarshal, for the bench's request and Istio's.
func BenchmarkLeanDecode(b *testing.B) {
	for name, req := range map[string]*authv3.CheckRequest{"bench": benchRequest("/api/orders?page=2"), "istio": envoyCheck()} {
		wire, _ := proto.Marshal(req)
		b.Run(name+"/lean", func(b *testing.B) {
			b.ReportAllocs()
			var r leanRequest
			for b.Loop() {
				if err := r.decode(wire); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/protobuf", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var req authv3.CheckRequest
				if err := proto.Unmarshal(wire, &req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Over a real gRPC server, the lean path (no interceptor) and the decoded path (an
// interceptor, handed the CheckRequest it expects) answer every request as Check does.
func TestLeanAndDecodedPathsAnswerAlike(t *testing.T) {
	v := fakeVerifier{"good": claims(`{"sub":"u1","email":"a@example.com","name":"Alice"}`)}
	svc := NewServer(authz.NewAuthorizer(testLive(v), nil))
	var mu sync.Mutex
	var intercepted []any
	withInterceptor := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		intercepted = append(intercepted, req)
		return handler(ctx, req)
	}
	serve := func(opts ...grpc.ServerOption) authv3.AuthorizationClient {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer(append(ServerOptions(DefaultMaxRequestBytes), opts...)...)
		svc.Register(s)
		go func() { _ = s.Serve(lis) }()
		t.Cleanup(s.Stop)
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return authv3.NewAuthorizationClient(conn)
	}
	lean, decoded := serve(), serve(grpc.UnaryInterceptor(withInterceptor))
	cookies := rawHeadersCheck()
	cookies.Attributes.Request.Http.HeaderMap.Headers[0].RawValue = []byte("Bearer nope")
	requests := map[string]*authv3.CheckRequest{
		"allowed": benchRequest("/api/orders"), "istio": envoyCheck(), "raw headers": rawHeadersCheck(),
		"refused": cookies, "no token": httpCheck("GET", "h", "/", nil), "no http": {},
		"preflight": httpCheck("OPTIONS", "h", "/", map[string]string{"origin": "https://a.example", "access-control-request-method": "GET"}),
	}
	for name, req := range requests {
		t.Run(name, func(t *testing.T) {
			want, _ := svc.Check(context.Background(), req)
			for path, client := range map[string]authv3.AuthorizationClient{"lean": lean, "decoded": decoded} {
				got, err := client.Check(context.Background(), req)
				if err != nil || !proto.Equal(got, want) {
					t.Errorf("%s: %v, %v; Check answers %v", path, got, err, want)
				}
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(intercepted) != len(requests) {
		t.Fatalf("the interceptor saw %d requests, want %d", len(intercepted), len(requests))
	}
	for _, req := range intercepted {
		if _, ok := req.(*authv3.CheckRequest); !ok {
			t.Fatalf("the interceptor was handed a %T", req)
		}
	}
}
