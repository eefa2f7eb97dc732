package extauthz

import (
	"errors"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/betterauthz/betterauthz/authz"
)

// Transport names this door in decision logs and metrics.
const Transport = "grpc"

var errNoHTTP = errors.New("CheckRequest has no HTTP request attributes")

// Extract reads a CheckRequest. It fails only when the request has no HTTP attributes at all,
// which no Envoy HTTP filter sends.
func Extract(req *authv3.CheckRequest) (*authz.Request, error) {
	r := new(authz.Request)
	if err := extract(r, req); err != nil {
		return nil, err
	}
	return r, nil
}

// extract reads a CheckRequest into r.
func extract(r *authz.Request, req *authv3.CheckRequest) error {
	h := req.GetAttributes().GetRequest().GetHttp()
	if h == nil {
		return errNoHTTP
	}
	*r = authz.Request{
		Transport:            Transport,
		ID:                   h.GetId(),
		Method:               h.GetMethod(),
		Scheme:               h.GetScheme(),
		Host:                 h.GetHost(),
		Path:                 h.GetPath(),
		Headers:              headers{h},
		ContextExtensions:    req.GetAttributes().GetContextExtensions(),
		DestinationNamespace: spiffeNamespace(req.GetAttributes().GetDestination().GetPrincipal()),
	}
	if r.ID == "" {
		r.ID, _ = r.Header("x-request-id")
	}
	return nil
}

// headers reads a CheckRequest's headers: the headers map, or header_map when Envoy has
// encode_raw_headers on (values as raw bytes, repeated headers not joined).
type headers struct {
	h *authv3.AttributeContext_HttpRequest
}

func (hs headers) Header(name string) (value string, n int) {
	if list := hs.h.GetHeaderMap().GetHeaders(); len(list) > 0 {
		return fromHeaderMap(list, name)
	}
	if v, ok := hs.h.GetHeaders()[name]; ok {
		return v, 1
	}
	return "", 0
}

// Values implements authz.ValuesHeaders.
func (hs headers) Values(name string) []string {
	list := hs.h.GetHeaderMap().GetHeaders()
	if len(list) == 0 {
		if v, ok := hs.h.GetHeaders()[name]; ok {
			return []string{v}
		}
		return nil
	}
	var out []string
	for _, hv := range list {
		if strings.EqualFold(hv.GetKey(), name) {
			v := hv.GetValue()
			if raw := hv.GetRawValue(); len(raw) > 0 {
				v = string(raw)
			}
			out = append(out, v)
		}
	}
	return out
}

func fromHeaderMap(list []*corev3.HeaderValue, name string) (value string, n int) {
	for _, hv := range list {
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
