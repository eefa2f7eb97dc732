package scripts_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The shape of the code, kept: files split by idea, not by size; short functions; and the
// decision core and the token verifier free of transports, Kubernetes and wiring (see the
// README's Layout).
const (
	// maxFileLines is where a file should make a reader ask whether it holds more than one idea:
	// one that passes it names its one idea in oneIdea, or is split where its ideas part.
	maxFileLines = 400
	maxFuncLines = 80
)

// oneIdea are the files longer than maxFileLines, each with the one idea it holds.
var oneIdea = map[string]string{
	"authz/extauthz/wire.go":        "the lean CheckRequest decoder: the fields a decision reads, refused exactly as protobuf-go refuses",
	"authz/read.go":                 "reading a request's target, host and path strictly, as rules match them",
	"internal/cli/verify_report.go": "verify's report: what is trusted, one line per check of the token with the fix, the verdict",
}

// harnesses are test harnesses and tools, which the bounds do not cover.
var harnesses = []string{"internal/testenv/", "bench/", "tools/", ".cache/", "test/"}

func TestFilesHoldOneIdeaAndFunctionsStaySmall(t *testing.T) {
	fset := token.NewFileSet()
	seen := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		for _, h := range harnesses {
			if strings.HasPrefix(filepath.ToSlash(rel)+"/", h) || strings.HasPrefix(filepath.ToSlash(rel), h) {
				return nil
			}
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		n := fset.Position(f.End()).Line
		idea, listed := oneIdea[filepath.ToSlash(rel)]
		switch {
		case n > maxFileLines && !listed:
			t.Errorf("%s: %d lines, more than %d: split it where its ideas part, or name its one idea in oneIdea", rel, n, maxFileLines)
		case n <= maxFileLines && listed:
			t.Errorf("%s: %d lines: no longer needs its entry in oneIdea (%q)", rel, n, idea)
		}
		seen[filepath.ToSlash(rel)] = true
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			if n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1; n > maxFuncLines {
				t.Errorf("%s: func %s is %d lines, more than %d", rel, fn.Name.Name, n, maxFuncLines)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for f := range oneIdea {
		if !seen[f] {
			t.Errorf("oneIdea names %s, which is not a source file", f)
		}
	}
}

func TestCoreImportsNoTransportKubernetesOrWiring(t *testing.T) {
	forbidden := []string{"github.com/envoyproxy/go-control-plane", "google.golang.org/grpc", "k8s.io/", "github.com/betterauthz/betterauthz/internal/"}
	for pkg, extra := range map[string][]string{
		"../authz": nil,
		"../jwks":  {"github.com/betterauthz/betterauthz/authz"},
	} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range append(forbidden, extra...) {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
