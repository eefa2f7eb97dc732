// Command gen writes the README's flag table from the settings declared in
// internal/server.Options. Run from the repository root: `make schema`.
package main

import (
	"fmt"
	"os"

	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/settings"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "settings:", err)
		os.Exit(1)
	}
}

func run() error {
	const readme = "README.md"
	old, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	out, err := settings.WithTable(old, &server.Options{})
	if err != nil {
		return fmt.Errorf("%s: %w", readme, err)
	}
	if err := os.WriteFile(readme, out, 0o644); err != nil {
		return err
	}
	fmt.Println("wrote the flag table of", readme)
	return nil
}
