package extauthz

import (
	"bytes"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/betterauthz/betterauthz/authz"
)

// assertEncodedIsRendered fails t unless the encoded answer to d is the bytes protobuf-go
// marshals Render's answer to d into, or, when protobuf-go refuses to marshal it, none.
func assertEncodedIsRendered(t *testing.T, d *authz.Decision) {
	t.Helper()
	want, err := proto.Marshal(Render(d))
	e := new(encodedAnswer).encode(d)
	if err != nil {
		if e != nil {
			t.Fatalf("encoded %x, but protobuf-go refuses to marshal it: %v", e.b, err)
		}
		return
	}
	if e == nil {
		t.Fatal("not encoded, yet protobuf-go marshals it")
	}
	if got := e.b; !bytes.Equal(got, want) {
		t.Fatalf("encoded %x\nwant    %x", got, want)
	}
}

func TestEncodedAnswerIsRendersMarshalled(t *testing.T) {
	idHeaders := []authz.Header{{Name: "x-user-email", Value: "a@example.com"}, {Name: "x-user-id", Value: "u1"}, {Name: "x-user-name", Value: "Alice"}}
	long := strings.Repeat("v", 300)
	many := make([]authz.Header, 40)
	for i := range many {
		many[i] = authz.Header{Name: "x-h", Value: long}
	}
	for name, d := range map[string]authz.Decision{
		"nothing":           {Reason: authz.ReasonAllowed},
		"identity headers":  {Reason: authz.ReasonAllowed, Set: idHeaders, Remove: []string{"x-user-org"}, Underscored: []string{"x_user_email", "x_user_id"}},
		"public":            {Reason: authz.ReasonPublic, Remove: []string{"x-user-id", "x-user-email"}},
		"empty names":       {Reason: authz.ReasonAllowed, Set: []authz.Header{{}, {Name: "a"}, {Value: "b"}}, Remove: []string{""}, Underscored: []string{""}},
		"session cookies":   {Reason: authz.ReasonAllowed, Set: idHeaders, ResponseHeaders: []authz.Header{{Name: "set-cookie", Value: "a=1"}, {Name: "set-cookie", Value: ""}}},
		"dry run":           {Reason: authz.ReasonInvalidToken, DryRun: true, Remove: []string{"x-user-id"}},
		"long values":       {Reason: authz.ReasonAllowed, Set: []authz.Header{{Name: "x-long", Value: long}}},
		"beyond the inline": {Reason: authz.ReasonAllowed, Set: many, ResponseHeaders: many},
		"invalid UTF-8":     {Reason: authz.ReasonAllowed, Set: idHeaders, ResponseHeaders: []authz.Header{{Name: "set-cookie", Value: "a=\xff"}}},
	} {
		t.Run(name, func(t *testing.T) {
			if !d.Allowed() {
				t.Fatalf("%s is not an allowed decision", name)
			}
			assertEncodedIsRendered(t, &d)
		})
	}
}

// FuzzEncodedAnswer: for any identity headers, removals and response headers, the encoded
// answer is Render's, marshalled by protobuf-go.
func FuzzEncodedAnswer(f *testing.F) {
	f.Add("x-user-id\x00u1\x00x-user-email\x00a@example.com", "x-user-org\x00x_user_id", "set-cookie\x00a=1", false)
	f.Add("", "", "", true)
	f.Fuzz(func(t *testing.T, set, remove, respHeaders string, dryRun bool) {
		headers := func(s string) []authz.Header {
			var out []authz.Header
			parts := strings.Split(s, "\x00")
			for i := 0; i+1 < len(parts); i += 2 {
				out = append(out, authz.Header{Name: parts[i], Value: parts[i+1]})
			}
			return out
		}
		d := authz.Decision{Reason: authz.ReasonAllowed, Set: headers(set), ResponseHeaders: headers(respHeaders)}
		if dryRun {
			d.Reason, d.DryRun = authz.ReasonExpired, true
		}
		if remove != "" {
			names := strings.Split(remove, "\x00")
			d.Remove, d.Underscored = names[:len(names)/2], names[len(names)/2:]
		}
		assertEncodedIsRendered(t, &d)
	})
}

// The field numbers the encoder writes are the descriptors'.
func TestEncodedAnswerFieldNumbers(t *testing.T) {
	num := func(m proto.Message, name protoreflect.Name) protoreflect.FieldNumber {
		fd := m.ProtoReflect().Descriptor().Fields().ByName(name)
		if fd == nil {
			t.Fatalf("%s has no field %s", m.ProtoReflect().Descriptor().FullName(), name)
		}
		return fd.Number()
	}
	for _, c := range []struct {
		got  protoreflect.FieldNumber
		want protoreflect.FieldNumber
	}{
		{checkResponseStatus, num(&authv3.CheckResponse{}, "status")},
		{checkResponseOK, num(&authv3.CheckResponse{}, "ok_response")},
		{statusCode, num(&status.Status{}, "code")},
		{okHeaders, num(&authv3.OkHttpResponse{}, "headers")},
		{okHeadersToRemove, num(&authv3.OkHttpResponse{}, "headers_to_remove")},
		{okResponseHeadersToAdd, num(&authv3.OkHttpResponse{}, "response_headers_to_add")},
		{headerValueOptionHeader, num(&corev3.HeaderValueOption{}, "header")},
		{headerValueOptionAction, num(&corev3.HeaderValueOption{}, "append_action")},
		{headerValueKey, num(&corev3.HeaderValue{}, "key")},
		{headerValueValue, num(&corev3.HeaderValue{}, "value")},
	} {
		if c.got != c.want {
			t.Errorf("field number %d, the descriptor's %d", c.got, c.want)
		}
	}
}
