package extauthz

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/betterauthz/betterauthz/authz"
)

var update = flag.Bool("update", false, "rewrite the golden CheckResponses in testdata/golden")

// sampleDecision is a representative decision for each reason.
func sampleDecision(r authz.Reason) authz.Decision {
	d := authz.Decision{Reason: r, Realm: "https://auth.example.com"}
	switch r {
	case authz.ReasonAllowed, authz.ReasonPublic:
		d.Set = []authz.Header{{Name: "x-user-email", Value: "a@example.com"}, {Name: "x-user-id", Value: "u1"}}
		d.Remove = []string{"x-user-name"}
		d.Underscored = []string{"x_user_email", "x_user_id", "x_user_name"}
	case authz.ReasonCORSPreflight:
		d.Remove = []string{"x-user-email", "x-user-id", "x-user-name"}
		d.Underscored = []string{"x_user_email", "x_user_id", "x_user_name"}
	case authz.ReasonMissingToken:
		d.Description = "a bearer token is required"
	case authz.ReasonInvalidToken:
		d.Description = "signature invalid"
	case authz.ReasonExpired:
		d.Description = "token expired"
	case authz.ReasonUnknownKey:
		d.Description = "unknown signing key"
	case authz.ReasonInsufficientClaims:
		d.Description = `claim "role" must be one of admin`
	case authz.ReasonPolicyDenied:
		d.Description = "this route is closed"
	case authz.ReasonNotReady:
		d.Description = "signing keys not loaded yet"
	case authz.ReasonTimeout:
		d.Description = "timed out waiting for signing keys"
	case authz.ReasonKeysUnavailable:
		d.Description = "signing keys unavailable: the JWKS could not be refreshed"
	case authz.ReasonKeysStale:
		d.Description = "signing keys stale: the JWKS has not been refreshed for too long"

	case authz.ReasonBadRequest:
		d.Description = "CheckRequest has no HTTP request attributes"
	case authz.ReasonInternal:
		d.Description = "internal error"
	case authz.ReasonSignIn:
		d.Description = "sign in"
		d.Location = "https://app.example.com/sign-in?callbackURL=https%3A%2F%2Fapp.example.com%2Forders"
	case authz.ReasonUntrustedOrigin:
		d.Description = "a cookie-authenticated POST must come from a trusted origin (Origin or Referer)"
	case authz.ReasonSessionUnavailable:
		d.Description = "session lookup unavailable: Better Auth did not answer"
	case authz.ReasonIntrospectionUnavailable:
		d.Description = "token introspection unavailable: Better Auth did not answer usably"
	case authz.ReasonInsufficientScope:
		d.Description = "access token is missing required scope: write:tasks admin"
		d.Scope = "write:tasks admin"
		d.ResourceMetadata = "https://api.example.com/.well-known/oauth-protected-resource/mcp"
	case authz.ReasonWrongResource:
		d.Description = "access token is not for this resource (aud)"
		d.ResourceMetadata = "https://api.example.com/.well-known/oauth-protected-resource/mcp"
	case authz.ReasonInvalidRoutePolicy:
		d.Description = "this route's betterauthz.io/ settings are invalid"
		d.Detail = "betterauthz.io/policy: \"allow\" is not a policy"
	}
	return d
}

func TestRenderGolden(t *testing.T) {
	for _, reason := range authz.Reasons() {
		t.Run(string(reason), func(t *testing.T) {
			d := sampleDecision(reason)
			got := Render(&d)
			path := filepath.Join("testdata", "golden", string(reason)+".json")
			if *update {
				b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(got)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./authz -run TestRenderGolden -update)", err)
			}
			want := &authv3.CheckResponse{}
			if err := protojson.Unmarshal(b, want); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, want) {
				t.Errorf("CheckResponse differs from %s:\ngot  %v\nwant %v", path, got, want)
			}
		})
	}
}

// TestRenderInvariants holds for every reason: the contract's rules, not a snapshot.
func TestRenderInvariants(t *testing.T) {
	for _, reason := range authz.Reasons() {
		d := sampleDecision(reason)
		code, httpStatus := codes.Code(d.Code()), d.HTTPStatus()
		resp := Render(&d)
		if codes.Code(resp.GetStatus().GetCode()) != code {
			t.Errorf("%s: gRPC code %d, want %s", reason, resp.GetStatus().GetCode(), code)
		}
		if code == codes.OK {
			ok := resp.GetOkResponse()
			if ok == nil {
				t.Fatalf("%s: allowed without an OkResponse", reason)
			}
			set := map[string]bool{}
			for _, h := range ok.GetHeaders() {
				//lint:ignore SA1019 the deprecated append field must stay unset: Envoy would read it
				if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD || h.GetAppend() != nil {
					t.Errorf("%s: header %s is not OVERWRITE_IF_EXISTS_OR_ADD", reason, h.GetHeader().GetKey())
				}
				set[h.GetHeader().GetKey()] = true
			}
			removed := map[string]bool{}
			for _, name := range ok.GetHeadersToRemove() {
				if set[name] {
					t.Errorf("%s: %s is both set and removed", reason, name)
				}
				removed[name] = true
			}
			// A CGI or WSGI upstream reads x_user_id as x-user-id: a client's must not pass.
			for name := range set {
				if u := strings.ReplaceAll(name, "-", "_"); !removed[u] {
					t.Errorf("%s: %s is set, but a client's %s is not removed", reason, name, u)
				}
			}
			for _, name := range d.Remove {
				if u := strings.ReplaceAll(name, "-", "_"); !removed[u] {
					t.Errorf("%s: %s is removed, but a client's %s is not", reason, name, u)
				}
			}
			continue
		}
		denied := resp.GetDeniedResponse()
		if denied == nil || int(denied.GetStatus().GetCode()) != httpStatus {
			t.Fatalf("%s: denied response %v, want HTTP %d", reason, denied, httpStatus)
		}
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if err := json.Unmarshal([]byte(denied.GetBody()), &body); err != nil || body.Error == "" {
			t.Errorf("%s: body %q is not the JSON error object", reason, denied.GetBody())
		}
		hdrs := map[string]string{}
		for _, h := range denied.GetHeaders() {
			hdrs[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		if hdrs["content-type"] != "application/json" {
			t.Errorf("%s: content-type %q", reason, hdrs["content-type"])
		}
		if _, has := hdrs["www-authenticate"]; has != (httpStatus == 401 || reason == authz.ReasonInsufficientClaims || reason == authz.ReasonInsufficientScope) {
			t.Errorf("%s: www-authenticate present = %v", reason, has)
		}
		if _, has := hdrs["retry-after"]; has != (httpStatus == 503) {
			t.Errorf("%s: retry-after present = %v", reason, has)
		}
	}
}
