package kube

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/betterauthz/betterauthz/internal/config"
)

// An HTTPRoute serves only the hostnames its Gateway's listeners admit: a route that names
// app.tenant-a.example.com and is accepted through a listener for *.evil.example.com does not
// get app.tenant-a's traffic, so it must not decide for that host either.

// GatewayGVR is the Gateway API's Gateway, watched (cluster-wide) with HTTPRoutes.
var GatewayGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}

// Listener is what betterauthz reads of a Gateway listener.
type Listener struct {
	Name     string
	Hostname string // "" admits every host
	Port     int64
	// From is allowedRoutes.namespaces.from: "Same" (the default), "All" or "Selector". A
	// Selector is not evaluated (betterauthz does not read namespaces): it admits routes of
	// every namespace here.
	From string
	// HTTP: the listener can carry HTTPRoutes (protocol HTTP or HTTPS).
	HTTP bool
}

// ParentRef is a Gateway that accepted a route, and the part of it the route named.
type ParentRef struct {
	Gateway string // "namespace/name"
	Section string // listener name; "" for every listener
	Port    int64  // 0 for every port
}

// fromGateway reads a Gateway's listeners.
func fromGateway(u *unstructured.Unstructured) (key string, listeners []Listener) {
	items, _, _ := unstructured.NestedSlice(u.Object, "spec", "listeners")
	for _, it := range items {
		m, _ := it.(map[string]any)
		l := Listener{From: "Same"}
		l.Name, _, _ = unstructured.NestedString(m, "name")
		l.Hostname, _, _ = unstructured.NestedString(m, "hostname")
		l.Port, _, _ = unstructured.NestedInt64(m, "port")
		proto, _, _ := unstructured.NestedString(m, "protocol")
		l.HTTP = proto == "HTTP" || proto == "HTTPS"
		if from, ok, _ := unstructured.NestedString(m, "allowedRoutes", "namespaces", "from"); ok && from != "" {
			l.From = from
		}
		listeners = append(listeners, l)
	}
	return u.GetNamespace() + "/" + u.GetName(), listeners
}

// admits reports whether the listener takes a route of namespace routeNS through parent ref.
func (l Listener) admits(ref ParentRef, gatewayNS, routeNS string) bool {
	if !l.HTTP || (ref.Section != "" && ref.Section != l.Name) || (ref.Port != 0 && ref.Port != l.Port) {
		return false
	}
	switch l.From {
	case "All", "Selector":
		return true
	default: // "Same"
		return gatewayNS == routeNS
	}
}

// routeHostnames are the hostnames an HTTPRoute serves through the listeners that admit it:
// Gateway API's intersection of its hostnames (none: every host) with each listener's. every is
// true when a listener without a hostname admits a route without hostnames: the route serves
// whatever host reaches the Gateway.
func routeHostnames(route []string, listeners []Listener) (hosts []string, every bool) {
	seen := map[string]bool{}
	add := func(h string) {
		if h != "" && !seen[h] {
			seen[h] = true
			hosts = append(hosts, h)
		}
	}
	for _, l := range listeners {
		switch {
		case len(route) == 0 && l.Hostname == "":
			every = true
		case len(route) == 0:
			add(l.Hostname)
		default:
			for _, h := range route {
				add(intersectHost(h, l.Hostname))
			}
		}
	}
	return hosts, every
}

// intersectHost is the more specific of a route hostname and a listener hostname when one
// covers the other, "" when they share no host (Gateway API, HTTPRoute hostnames).
func intersectHost(route, listener string) string {
	route, listener = strings.ToLower(route), strings.ToLower(listener)
	switch {
	case listener == "" || route == listener:
		return route
	case covers(listener, route):
		return route
	case covers(route, listener):
		return listener
	}
	return ""
}

// covers reports whether wildcard pattern ("*.example.com") covers host (exact or wildcard): a
// wildcard covers the names with at least one more label.
func covers(pattern, host string) bool {
	suffix, ok := strings.CutPrefix(pattern, "*")
	if !ok {
		return false
	}
	h := strings.TrimPrefix(host, "*")
	return len(h) > len(suffix) && strings.HasSuffix(h, suffix)
}

// servedHostnames are the hostnames an HTTPRoute serves through the Gateways that accepted it
// (those of annotations.gateways, when set): its own, narrowed to what each admitting listener
// takes (a route without hostnames takes the listeners'). A Gateway betterauthz does not see
// leaves the route's own hostnames. reason says why none can be indexed.
func servedHostnames(o *Object, a config.Annotations, c Cluster) (hosts []string, reason string) {
	var own []string
	for _, r := range o.Routes {
		own = append(own, r.Hosts...)
	}
	if c.Gateways == nil {
		if len(own) == 0 {
			return nil, "no spec.hostnames: it serves every host of its Gateway listeners, which betterauthz cannot see"
		}
		return own, ""
	}
	every := false
	for _, ref := range o.ParentRefs {
		if len(a.Gateways) > 0 && !slices.Contains(a.Gateways, ref.Gateway) {
			continue
		}
		listeners, known := c.Gateways[ref.Gateway]
		if !known {
			hosts = append(hosts, own...)
			every = every || len(own) == 0
			continue
		}
		gatewayNS, _, _ := strings.Cut(ref.Gateway, "/")
		var admitting []Listener
		for _, l := range listeners {
			if l.admits(ref, gatewayNS, o.Namespace) {
				admitting = append(admitting, l)
			}
		}
		h, e := routeHostnames(own, admitting)
		hosts = append(hosts, h...)
		every = every || e
	}
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	switch {
	case len(hosts) > 0:
		return hosts, ""
	case every:
		return nil, "no spec.hostnames: it serves every host of a Gateway listener without a hostname (or of a Gateway betterauthz does not see): betterauthz cannot tell which, so its annotations do not apply"
	default:
		return nil, "none of its hostnames is one its Gateways' listeners take"
	}
}
