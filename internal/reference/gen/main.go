// Command gen writes the docs' reference pages (docs/reference/) from the code. Run from the
// repository root: `go run ./internal/reference/gen`, or `make docs`.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/betterauthz/betterauthz/internal/reference"
)

func main() {
	files, err := reference.Files(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "reference:", err)
		os.Exit(1)
	}
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "reference:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(name, files[name], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "reference:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", name)
	}
}
