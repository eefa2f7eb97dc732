package reference

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPagesUpToDate: the committed reference pages are what the code says today.
func TestPagesUpToDate(t *testing.T) {
	files, err := Files("../..")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("../..", name))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s is stale: run `go run ./internal/reference/gen` (make docs)", name)
		}
	}
}

// TestPagesCoverTheCode: every flag, key and reason made it in, so a parser that silently
// skipped a line cannot shrink a table.
func TestPagesCoverTheCode(t *testing.T) {
	files, err := Files("../..")
	if err != nil {
		t.Fatal(err)
	}
	for file, wants := range map[string][]string{
		CLIFile:     {"`--grpc-addr string` | `BETTERAUTHZ_GRPC_ADDR` | `:9000`", "`--workload-namespace string`", "`--log-level VALUE`", "`--pprof`", "`--token string`", "## betterauthz validate", "Usage: `betterauthz validate FILE...`"},
		ConfigFile:  {"| `issuers[].name` |", "| `sessions.maxConcurrentLookups` |", "| `routes[].claims` | map |", "| `clockSkew` | duration |", "| `defaultPolicy` | `authenticated`, `public`, `deny` |", "| `annotations.gateways` | list of strings |"},
		ReasonsFile: {"| `missing_token` |", "| `sign_in_redirect` |", "`UNAUTHENTICATED` | 302 |", "| `not_ready` | JWKS never loaded | `UNAVAILABLE` | 503 | `temporarily_unavailable` | — | 5 s |"},
	} {
		for _, w := range wants {
			if !strings.Contains(string(files[file]), w) {
				t.Errorf("%s lacks %q", file, w)
			}
		}
	}
}
