// Command gen writes the config's JSON Schema (docs/config.schema.json) and the `config`
// property of the chart's values.schema.json from the Go config types. Run from the repository
// root: `make schema`.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/betterauthz/betterauthz/internal/config/schema"
)

func main() {
	files, err := schema.Files(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "schema:", err)
		os.Exit(1)
	}
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "schema:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(name, files[name], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "schema:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", name)
	}
}
