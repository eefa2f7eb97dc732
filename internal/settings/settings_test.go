package settings_test

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/authz/extauthz"
	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/settings"
)

// TestServerSettingsAreWellFormed: every setting of server.Options has a flag, its environment
// variable by the documented rule (BETTERAUTHZ_<FLAG>), help, and a default the flag accepts.
func TestServerSettingsAreWellFormed(t *testing.T) {
	list := settings.List(&server.Options{})
	if len(list) < 18 {
		t.Fatalf("%d settings", len(list))
	}
	for _, s := range list {
		if want := "BETTERAUTHZ_" + strings.ToUpper(strings.ReplaceAll(s.Flag, "-", "_")); s.Env != want {
			t.Errorf("--%s: environment variable %q, want %q", s.Flag, s.Env, want)
		}
		if s.Help == "" {
			t.Errorf("--%s: no help", s.Flag)
		}
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var o server.Options
	if err := settings.Register(fs, &o); err != nil {
		t.Fatal(err)
	}
	var d server.Options
	if err := settings.Defaults(&d); err != nil {
		t.Fatal(err)
	}
	// The flags' defaults are the options' defaults.
	if o.GRPCAddr != d.GRPCAddr || o.ShutdownTimeout != d.ShutdownTimeout || o.LogDecisions != d.LogDecisions {
		t.Errorf("flag defaults %+v, option defaults %+v", o, d)
	}
	// The transport's own limit is the process's default.
	if d.GRPCMaxRequestBytes != extauthz.DefaultMaxRequestBytes {
		t.Errorf("--grpc-max-request-bytes defaults to %d, the transport's limit is %d", d.GRPCMaxRequestBytes, extauthz.DefaultMaxRequestBytes)
	}
}

// TestEnvironmentAndFlags: the environment sets a flag's field, a flag given wins, help text
// loses its Markdown links and README text gets code spans.
func TestEnvironmentAndFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o server.Options
	if err := settings.Register(fs, &o); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"BETTERAUTHZ_GRPC_ADDR": "env:1", "BETTERAUTHZ_HTTP_ADDR": "env:2", "BETTERAUTHZ_PPROF": "true"}
	if err := settings.Environment(fs, &o, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--grpc-addr", "flag:1"}); err != nil {
		t.Fatal(err)
	}
	if o.GRPCAddr != "flag:1" || o.HTTPAddr != "env:2" || !o.Pprof {
		t.Errorf("%q %q %v", o.GRPCAddr, o.HTTPAddr, o.Pprof)
	}
	if err := settings.Environment(fs, &o, func(k string) string { return map[string]string{"BETTERAUTHZ_SHUTDOWN_DELAY": "soon"}[k] }); err == nil || !strings.Contains(err.Error(), "$BETTERAUTHZ_SHUTDOWN_DELAY") {
		t.Errorf("bad duration: %v", err)
	}
	if got := settings.Plain("a [Unix socket](#unix-sockets) for 'x'"); got != "a Unix socket for 'x'" {
		t.Errorf("Plain: %q", got)
	}
	if got := settings.Markdown("Envoy's 'http_service' and the pod's ('a', 'b')"); got != "Envoy's `http_service` and the pod's (`a`, `b`)" {
		t.Errorf("Markdown: %q", got)
	}
}
