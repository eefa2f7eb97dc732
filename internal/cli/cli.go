// Package cli is betterauthz's command line: subcommands, flags (each also settable as
// BETTERAUTHZ_<NAME>), exit codes. main only wires signals to Run.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// ExitError carries a specific exit code.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps Run's error to a process exit code: 0 for nil, the code of an ExitError, else 1.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code
	}
	return 1
}

const usage = `betterauthz verifies Better Auth JWTs for Envoy (ext_authz v3, gRPC).

Usage:
  betterauthz [serve] [flags]   run the server (the default)
  betterauthz check [flags]     send one CheckRequest to a running server and print the answer
  betterauthz validate FILE...  check config files offline ("-" reads stdin); exit 1 on any problem
  betterauthz verify [flags]    explain, check by check, whether serve would accept a token, and the fix
  betterauthz routes [flags]    print a running server's effective route table
  betterauthz version           print version information
  betterauthz help              print this help

Every flag can also be set as BETTERAUTHZ_<FLAG> (e.g. BETTERAUTHZ_GRPC_ADDR); flags win.
Run "betterauthz <command> -h" for a command's flags.
`

// Main runs the command line, reports an error on stderr, and returns the exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := Run(ctx, args, getenv, stdin, stdout, stderr)
	var e *ExitError
	if err != nil && (!errors.As(err, &e) || e.Err != nil) {
		fmt.Fprintln(stderr, "betterauthz:", err)
	}
	return ExitCode(err)
}

// Run runs the command line. It returns nil on success; errors carry their exit code
// (see ExitCode). Usage problems exit 2.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && isHelp(args[0]) {
		cmd = "help"
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "check":
		return check(ctx, args, getenv, stdin, stdout, stderr)
	case "validate":
		return validate(ctx, args, getenv, stdin, stdout, stderr)
	case "verify":
		return verify(ctx, args, getenv, stdin, stdout, stderr)
	case "routes":
		return routes(ctx, args, getenv, stdout, stderr)
	case "version":
		if len(args) > 0 {
			return &ExitError{Code: 2, Err: fmt.Errorf("version takes no arguments (got %q)", args[0])}
		}
		fmt.Fprintln(stdout, VersionString())
		return nil
	case "help":
		help(stdout)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return &ExitError{Code: 2, Err: fmt.Errorf("unknown command %q", cmd)}
	}
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// parseFlags applies BETTERAUTHZ_<NAME> environment variables, then the arguments, so that
// flags win over the environment. Arguments other than flags are refused. -h prints fs's usage
// on stdout (see parseArgs).
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string, stdout io.Writer) error {
	if err := parseFlagsAndArgs(fs, args, getenv, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &ExitError{Code: 2, Err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// parseFlagsAndArgs is parseFlags leaving the other arguments in fs.Args.
func parseFlagsAndArgs(fs *flag.FlagSet, args []string, getenv func(string) string, stdout io.Writer) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "BETTERAUTHZ_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("$%s: %w", name, err)
			}
		}
	})
	if envErr != nil {
		return &ExitError{Code: 2, Err: envErr}
	}
	return parseArgs(fs, args, stdout)
}

// parseArgs parses the arguments: -h prints fs's usage on stdout (help asked for is not an
// error); after a usage error, fs's output says where the help is.
func parseArgs(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	usage := fs.Usage
	fs.Usage = func() {} // flag calls it for -h and for errors alike: told apart below
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		out := fs.Output()
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(out)
		return &ExitError{Code: 0}
	case err != nil:
		fmt.Fprintf(fs.Output(), "Run \"%s -h\" for its flags.\n", fs.Name())
		return &ExitError{Code: 2, Err: err}
	}
	return nil
}
