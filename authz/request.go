package authz

import "strings"

// Request is what a decision needs to know of an HTTP request, whichever transport brought it.
type Request struct {
	// Transport names the door it came through ("grpc", "http"), for logs and metrics.
	Transport string
	// ID is the request's id (Envoy's x-request-id), for logs.
	ID     string
	Method string
	// Scheme is the request's scheme as the proxy saw it ("https", "http"), "" when unknown.
	Scheme string
	// Host is the request's host as the proxy saw it, possibly with a port.
	Host string
	// Path is the request target as the proxy saw it, query included.
	Path string
	// Headers are the request's headers.
	Headers Headers
	// ContextExtensions are the Envoy route's check_settings.context_extensions.
	ContextExtensions map[string]string
	// DestinationNamespace is the namespace of the workload receiving the request, when the
	// proxy names it (Istio: the destination principal).
	DestinationNamespace string
	// Scratch, when set, is memory the decision uses instead of allocating (see Scratch).
	Scratch *Scratch
}

// scratchHeaders is how many identity headers a Scratch holds (Better Auth's defaults are
// three); a config with more allocates for them.
const scratchHeaders = 4

// Scratch is memory for deciding one request. A transport that allocates it together with its
// Request (extauthz does, in one block with its response) makes a decision on a cached token
// allocate nothing: the Decision the observer is shown and the identity headers are written
// here. The Decision returned then points into it, so a Scratch serves one request and must
// not be reused while its Decision is in use.
type Scratch struct {
	decision Decision
	set      [scratchHeaders]Header
	names    [scratchHeaders]string
}

// Headers gives a request's headers.
type Headers interface {
	// Header returns the value of a header (name in lower case) and how many times it was
	// sent. When the transport joined repeated headers into one value (Envoy joins them with
	// ","), n is 1 and the value holds the commas.
	Header(name string) (value string, n int)
}

// ValuesHeaders is Headers that can also give every value of a repeated header, in order.
// Cookies need them: a browser on HTTP/2 sends each cookie as a header of its own.
type ValuesHeaders interface {
	Headers
	Values(name string) []string
}

// Values returns every value a header was sent with: all of them when the transport keeps
// repeated headers apart (see ValuesHeaders), else the one Header gives.
func (r *Request) Values(name string) []string {
	if vh, ok := r.Headers.(ValuesHeaders); ok {
		return vh.Values(name)
	}
	if v, n := r.Header(name); n > 0 {
		return []string{v}
	}
	return nil
}

// HeaderMap is Headers held in a map with lower-case names.
type HeaderMap map[string]string

// Header implements Headers.
func (m HeaderMap) Header(name string) (string, int) {
	if v, ok := m[name]; ok {
		return v, 1
	}
	return "", 0
}

// Header returns a request header's value and how many times it was sent (see Headers).
func (r *Request) Header(name string) (value string, n int) {
	if r.Headers == nil {
		return "", 0
	}
	return r.Headers.Header(name)
}

// CORSPreflight reports whether this is a browser's CORS preflight: OPTIONS with Origin and
// Access-Control-Request-Method. A plain OPTIONS is not one, nor one whose Origin is "null"
// (an opaque origin — a sandboxed page, a file, a redirect — which anyone can send, and which no
// CORS policy should grant anything) or empty.
func (r *Request) CORSPreflight() bool {
	if r.Method != "OPTIONS" {
		return false
	}
	origin, n := r.Header("origin")
	_, method := r.Header("access-control-request-method")
	origin = strings.TrimSpace(origin)
	return n == 1 && origin != "" && !strings.EqualFold(origin, "null") && method > 0
}
