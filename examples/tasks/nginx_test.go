package tasks_test

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestNginxConfIsTheShippedOne: the example's nginx.conf checks requests exactly as the shipped
// examples/proxies/nginx.conf does (which the proxy tests prove against every kind of spoofing),
// with the same map for the port of the host nginx routes by, plus the lines that keep the
// credentials from the app and those that copy the team board's and the API key's headers.
func TestNginxConfIsTheShippedOne(t *testing.T) {
	tasks, shipped := readFile(t, "nginx.conf"), readFile(t, "../proxies/nginx.conf")
	extra := []string{`proxy_set_header Authorization "";`, `proxy_set_header Cookie "";`, `proxy_set_header X-Api-Key "";`,
		"auth_request_set $betterauthz_org_id $upstream_http_x_organization_id;",
		"auth_request_set $betterauthz_org_role $upstream_http_x_organization_role;",
		"auth_request_set $betterauthz_api_key_id $upstream_http_x_api_key_id;",
		"proxy_set_header X-Organization-Id $betterauthz_org_id;",
		"proxy_set_header X-Organization-Role $betterauthz_org_role;",
		"proxy_set_header X-Api-Key-Id $betterauthz_api_key_id;"}
	for _, loc := range []string{"map $http_host $betterauthz_port", "location /", "location = /_betterauthz", "location @betterauthz_error"} {
		got, want := directives(t, tasks, loc), directives(t, shipped, loc)
		if loc == "location /" {
			for _, e := range extra {
				i := slices.Index(got, e)
				if i < 0 {
					t.Errorf("%s lacks %s", loc, e)
					continue
				}
				got = slices.Delete(got, i, i+1)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s differs from examples/proxies/nginx.conf's:\n%s\nwant:\n%s", loc, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	// Better Auth's location has no auth_request, and passes nothing of betterauthz's.
	for _, d := range directives(t, tasks, "location /api/auth/") {
		if strings.Contains(d, "auth_request") || strings.Contains(strings.ToLower(d), "x-user") {
			t.Errorf("location /api/auth/: %s", d)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// directives are the lines of the block that opens with `header {` (nested blocks included),
// without comments, blank lines and repeated spaces.
func directives(t *testing.T, conf, header string) []string {
	t.Helper()
	var out []string
	depth := 0
	for _, line := range strings.Split(conf, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		line = strings.Join(strings.Fields(line), " ")
		switch {
		case depth == 0 && line == header+" {":
			depth = 1
			continue
		case depth == 0 || line == "":
			continue
		}
		depth += strings.Count(line, "{") - strings.Count(line, "}")
		if depth == 0 {
			return out
		}
		out = append(out, line)
	}
	t.Fatalf("no complete %q block", header)
	return nil
}
