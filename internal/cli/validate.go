package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/betterauthz/betterauthz/internal/config"
)

// validate checks config files offline, as users' CI would: every problem is printed with its
// file, key and line. Exit code 1 if any file has a problem.
func validate(_ context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("betterauthz validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: betterauthz validate FILE...\n\nChecks betterauthz config files without running anything; \"-\" reads one from stdin. Exit code 0: all valid, 1: problems (each printed with its key), 2: usage.")
	}
	if err := parseArgs(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return &ExitError{Code: 2, Err: errors.New("validate: name at least one config file")}
	}
	bad := 0
	for _, arg := range fs.Args() {
		data, err := readConfig(arg, stdin)
		file := arg
		if arg == "-" {
			file = "stdin"
		}
		if err != nil {
			fmt.Fprintf(stdout, "%s: %v\n", file, err)
			bad++
			continue
		}
		s, err := config.Parse(data, getenv)
		if err != nil {
			for _, p := range config.Problems(err) {
				fmt.Fprintf(stdout, "%s: %s\n", file, p.Error())
			}
			bad++
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%s, %d routes, default %s)\n", file, describeIssuers(s.Issuers), len(s.Routes), s.DefaultPolicy)
	}
	if bad > 0 {
		return &ExitError{Code: 1}
	}
	return nil
}

// describeIssuers says which Better Auths a config trusts: "issuer ISS, jwks URL" for the
// one-issuer keys, each issuer by name for an issuers list.
func describeIssuers(list []config.Issuer) string {
	if len(list) == 1 && list[0].Name == config.DefaultIssuerName {
		return fmt.Sprintf("issuer %s, jwks %s", list[0].Issuer, list[0].JWKSURL)
	}
	parts := make([]string, len(list))
	for i, is := range list {
		parts[i] = fmt.Sprintf("%s: iss %s, jwks %s", is.Name, is.Issuer, is.JWKSURL)
	}
	return "issuers " + strings.Join(parts, "; ")
}

// readConfig reads a file, or stdin for "-" (a config piped in, e.g. from helm template).
func readConfig(file string, stdin io.Reader) ([]byte, error) {
	if file != "-" {
		return os.ReadFile(file)
	}
	if stdin == nil {
		return nil, errors.New("no standard input")
	}
	return io.ReadAll(io.LimitReader(stdin, 16<<20))
}
