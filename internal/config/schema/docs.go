package schema

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
)

// module is the module path; a package's source is at its path below the repository root.
const module = "github.com/betterauthz/betterauthz/"

// Docs reads the doc comments of the config types' fields from their source, so that editors
// show them on hover. Read from the repository at root; fields without a comment get none.
type Docs struct {
	root  string
	cache map[string]map[string]string // package dir -> "Type.Field" -> doc
}

// NewDocs reads doc comments from the repository at root.
func NewDocs(root string) Docs {
	return Docs{root: root, cache: map[string]map[string]string{}}
}

func (d Docs) field(t reflect.Type, field string) string {
	rel, ok := strings.CutPrefix(t.PkgPath(), module)
	if !ok || d.cache == nil {
		return ""
	}
	dir := filepath.Join(d.root, filepath.FromSlash(rel))
	docs, ok := d.cache[dir]
	if !ok {
		docs = parseFieldDocs(dir)
		d.cache[dir] = docs
	}
	return docs[t.Name()+"."+field]
}

// parseFieldDocs maps "Type.Field" to the field's comment (above it, else after it) for every
// struct type in a package's non-test files.
func parseFieldDocs(dir string) map[string]string {
	out := map[string]string{}
	entries, _ := os.ReadDir(dir)
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, fld := range st.Fields.List {
				doc := fld.Doc
				if doc == nil {
					doc = fld.Comment
				}
				if doc == nil {
					continue
				}
				text := strings.Join(strings.Fields(doc.Text()), " ")
				for _, id := range fld.Names {
					out[ts.Name.Name+"."+id.Name] = text
				}
			}
			return true
		})
	}
	return out
}
