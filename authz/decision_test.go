package authz

import "testing"

func TestQuoteEscapes(t *testing.T) {
	if got := quote(`a "b" \c`); got != `"a \"b\" \\c"` {
		t.Fatal(got)
	}
}

// OAuth challenges (RFC 6750 §3, RFC 9728 §5.1): the missing scopes, and where the route's
// resource metadata is, for a client to follow.
func TestOAuthChallenges(t *testing.T) {
	const meta = "https://api.example.com/.well-known/oauth-protected-resource/mcp"
	for name, tc := range map[string]struct {
		d    Decision
		want string
	}{
		"no credential": {Decision{Reason: ReasonMissingToken, Realm: "r", ResourceMetadata: meta},
			`Bearer realm="r", resource_metadata="` + meta + `"`},
		"another resource": {Decision{Reason: ReasonWrongResource, Realm: "r", Description: "d", ResourceMetadata: meta},
			`Bearer realm="r", error="invalid_token", error_description="d", resource_metadata="` + meta + `"`},
		"scopes missing": {Decision{Reason: ReasonInsufficientScope, Realm: "r", Description: "d", Scope: "write admin", ResourceMetadata: meta},
			`Bearer realm="r", error="insufficient_scope", scope="write admin", error_description="d", resource_metadata="` + meta + `"`},
		"no resource":  {Decision{Reason: ReasonMissingToken, Realm: "r"}, `Bearer realm="r"`},
		"no challenge": {Decision{Reason: ReasonPolicyDenied, ResourceMetadata: meta}, ""},
	} {
		if got := tc.d.Challenge(); got != tc.want {
			t.Errorf("%s: %s, want %s", name, got, tc.want)
		}
	}
	if d := (Decision{Reason: ReasonInsufficientScope}); d.HTTPStatus() != 403 || d.Code() != CodePermissionDenied {
		t.Errorf("insufficient_scope: %d", d.HTTPStatus())
	}
}

func TestResourceMetadataDocument(t *testing.T) {
	r, err := NewResource("https://api.example.com/mcp/", []string{"https://app.example.com/api/auth"}, []string{"read:tasks"})
	if err != nil {
		t.Fatal(err)
	}
	if r.MetadataURL != "https://api.example.com/.well-known/oauth-protected-resource/mcp" || r.MetadataPath != "/.well-known/oauth-protected-resource/mcp" {
		t.Fatalf("%s %s", r.MetadataURL, r.MetadataPath)
	}
	want := `{"resource":"https://api.example.com/mcp/","authorization_servers":["https://app.example.com/api/auth"],"scopes_supported":["read:tasks"],"bearer_methods_supported":["header"]}`
	if string(r.Document()) != want {
		t.Fatalf("%s", r.Document())
	}
	root, _ := NewResource("https://api.example.com", nil, nil)
	if root.MetadataPath != WellKnownResourcePath {
		t.Fatalf("root: %s", root.MetadataPath)
	}
}
