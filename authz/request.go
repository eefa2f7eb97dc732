// Package authz is betterauthz's Envoy-facing side: Check turns a CheckRequest into a Request
// (extract), a Request into a protocol-neutral Decision (decide), and a Decision into a
// CheckResponse (render). It knows nothing of Kubernetes.
package authz

import (
	"errors"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// Request holds what a decision needs from an Envoy CheckRequest.
type Request struct {
	// ID is Envoy's x-request-id, for logs.
	ID     string
	Method string
	// Host is the :authority as Envoy saw it, possibly with a port.
	Host string
	// Path is the :path as Envoy saw it, query included.
	Path string
	// ContextExtensions are the route's check_settings.context_extensions.
	ContextExtensions map[string]string
	// DestinationNamespace is the namespace of the workload receiving the request, when Envoy
	// names it (Istio: destination principal spiffe://<domain>/ns/<ns>/sa/<sa>).
	DestinationNamespace string

	headers   map[string]string     // Envoy joins repeated headers with ","
	headerMap []*corev3.HeaderValue // sent instead when Envoy has encode_raw_headers on
}

var errNoHTTP = errors.New("CheckRequest has no HTTP request attributes")

// Extract reads a CheckRequest. It fails only when the request has no HTTP attributes at all,
// which no Envoy HTTP filter sends.
func Extract(req *authv3.CheckRequest) (*Request, error) {
	h := req.GetAttributes().GetRequest().GetHttp()
	if h == nil {
		return nil, errNoHTTP
	}
	r := &Request{
		ID:                   h.GetId(),
		Method:               h.GetMethod(),
		Host:                 h.GetHost(),
		Path:                 h.GetPath(),
		ContextExtensions:    req.GetAttributes().GetContextExtensions(),
		headers:              h.GetHeaders(),
		headerMap:            h.GetHeaderMap().GetHeaders(),
		DestinationNamespace: spiffeNamespace(req.GetAttributes().GetDestination().GetPrincipal()),
	}
	if r.ID == "" {
		r.ID, _ = r.Header("x-request-id")
	}
	return r, nil
}

// Header returns the value of a header (name in lower case) and how many times it was sent.
// When Envoy sent repeated headers joined into one value, n is 1 and the value holds commas.
func (r *Request) Header(name string) (value string, n int) {
	if len(r.headerMap) > 0 {
		for _, hv := range r.headerMap {
			if !strings.EqualFold(hv.GetKey(), name) {
				continue
			}
			if n == 0 {
				value = hv.GetValue()
				if raw := hv.GetRawValue(); len(raw) > 0 {
					value = string(raw)
				}
			}
			n++
		}
		return value, n
	}
	if v, ok := r.headers[name]; ok {
		return v, 1
	}
	return "", 0
}

// CORSPreflight reports whether this is a browser's CORS preflight: OPTIONS with Origin and
// Access-Control-Request-Method. A plain OPTIONS is not one.
func (r *Request) CORSPreflight() bool {
	if r.Method != "OPTIONS" {
		return false
	}
	_, origin := r.Header("origin")
	_, method := r.Header("access-control-request-method")
	return origin > 0 && method > 0
}

// spiffeNamespace reads the namespace of an Istio workload identity,
// spiffe://cluster.local/ns/shop/sa/orders; "" for anything else.
func spiffeNamespace(principal string) string {
	rest, ok := strings.CutPrefix(principal, "spiffe://")
	if !ok {
		return ""
	}
	parts := strings.Split(rest, "/")
	for i := 1; i+1 < len(parts); i++ {
		if parts[i] == "ns" {
			return parts[i+1]
		}
	}
	return ""
}
