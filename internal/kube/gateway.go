package kube

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
