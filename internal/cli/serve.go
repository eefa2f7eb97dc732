package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"k8s.io/klog/v2"

	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/settings"
)

// serve runs the server. Its flags, their environment variables and defaults are server.Options'
// settings, declared there once.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("betterauthz serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o server.Options
	if err := settings.Register(fs, &o); err != nil {
		return err
	}
	fs.Usage = func() { help(fs.Output()) }
	if err := settings.Environment(fs, &o, getenv); err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if err := parseArgs(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &ExitError{Code: 2, Err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if o.GRPCMaxConnectionAge == 0 {
		o.GRPCMaxConnectionAge = -1 // server.Options: negative is never, zero the default
	}
	if o.GCHeapFloorMiB == 0 {
		o.GCHeapFloorMiB = -1 // server.Options: negative is off, zero the default
	}
	o.Getenv = getenv
	o.Version, o.Commit = Version, commit()
	o.Logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: o.LogLevel}))
	// client-go logs through klog: send it to the same JSON log.
	klog.SetSlogLogger(o.Logger.With("component", "client-go"))
	o.Logger.Info("starting", "version", VersionString())
	return server.Run(ctx, o)
}

// help is betterauthz's help: the commands, and the flags of serve, the default one.
func help(w io.Writer) {
	fmt.Fprint(w, usage)
	fmt.Fprintln(w, "\nbetterauthz serve's flags (each also set by the environment variable named; flags win):")
	settings.Usage(w, &server.Options{})
}
