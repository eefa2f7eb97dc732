package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// routes prints a running server's effective route table (its /debug/routes page): the first
// thing to look at when a request is unexpectedly denied.
func routes(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("betterauthz routes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("http-addr", "localhost:8080", "the server's ops address (--http-addr of serve)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: betterauthz routes [--http-addr localhost:8080] [--json]\n\nPrints the effective route table of a running betterauthz, with where each rule came from.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	url := "http://" + *addr + "/debug/routes"
	if *asJSON {
		url += "?format=json"
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, url, nil)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return &ExitError{Code: 2, Err: fmt.Errorf("routes: %w", err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &ExitError{Code: 1, Err: fmt.Errorf("routes: %s: HTTP %d: %s", url, resp.StatusCode, body)}
	}
	_, err = io.Copy(stdout, resp.Body)
	return err
}
