package httpcheck

import (
	"net/http/httptest"
	"testing"

	"github.com/betterauthz/betterauthz/authz"
)

func TestResourceMetadataEndpoint(t *testing.T) {
	res, err := authz.NewResource("https://api.example.com/mcp", []string{"https://app.example.com/api/auth"}, []string{"read:tasks"})
	if err != nil {
		t.Fatal(err)
	}
	a := authz.NewAuthorizer(&authz.Snapshot{Config: &authz.Config{Resources: map[string]*authz.Resource{res.Resource: res}}}, nil)
	h := NewHandler(a, 0)
	for name, tc := range map[string]struct {
		method, path string
		status       int
	}{
		"the resource's":      {"GET", "/.well-known/oauth-protected-resource/mcp", 200},
		"HEAD":                {"HEAD", "/.well-known/oauth-protected-resource/mcp", 200},
		"another path":        {"GET", "/.well-known/oauth-protected-resource/other", 404},
		"the root":            {"GET", "/.well-known/oauth-protected-resource", 404},
		"a POST":              {"POST", "/.well-known/oauth-protected-resource/mcp", 405},
		"an encoded spelling": {"GET", "/.well-known/oauth-protected-resource/%6Dcp", 404},
	} {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
			if w.Code != tc.status {
				t.Fatalf("HTTP %d, want %d", w.Code, tc.status)
			}
			if tc.status == 200 && (w.Header().Get("Content-Type") != "application/json" || tc.method == "GET" && w.Body.String() != string(res.Document())) {
				t.Fatalf("%v %s", w.Header(), w.Body)
			}
		})
	}
	// Before any config: nothing.
	w := httptest.NewRecorder()
	NewHandler(authz.NewAuthorizer(nil, nil), 0).ServeHTTP(w, httptest.NewRequest("GET", "/.well-known/oauth-protected-resource/mcp", nil))
	if w.Code != 404 {
		t.Fatalf("no config: HTTP %d", w.Code)
	}
}
