// Command betterauthz is an Envoy ext_authz server that verifies Better Auth JWTs.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/betterauthz/betterauthz/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := cli.Main(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
