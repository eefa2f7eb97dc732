package server

import (
	"net/http"
	"time"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/authz/httpcheck"
)

// Bounds of the HTTP check endpoint's input: a call is a proxy's description of a request
// (headers, a URI, no body), refused with 431 or 400 by net/http beyond them, never a 500.
const (
	checkMaxHeaderBytes = 64 << 10 // request line and headers, as Envoy's default header limit
	checkReadTimeout    = 5 * time.Second
	checkIdleTimeout    = 2 * time.Minute // proxies keep connections to their auth service
)

func newCheckServer(a *authz.Authorizer) *http.Server {
	return &http.Server{
		Handler:           httpcheck.NewHandler(a, 0),
		MaxHeaderBytes:    checkMaxHeaderBytes,
		ReadHeaderTimeout: checkReadTimeout,
		ReadTimeout:       checkReadTimeout,
		IdleTimeout:       checkIdleTimeout,
	}
}
