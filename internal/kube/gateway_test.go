package kube

import (
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
)

func TestIntersectHost(t *testing.T) {
	cases := []struct{ route, listener, want string }{
		{"foo.example.com", "", "foo.example.com"},
		{"foo.example.com", "foo.example.com", "foo.example.com"},
		{"foo.example.com", "*.example.com", "foo.example.com"},
		{"*.example.com", "foo.example.com", "foo.example.com"},
		{"*.example.com", "*.example.com", "*.example.com"},
		{"*.a.example.com", "*.example.com", "*.a.example.com"},
		{"*.example.com", "*.a.example.com", "*.a.example.com"},
		{"example.com", "*.example.com", ""},
		{"foo.other.com", "*.example.com", ""},
		{"app.tenant-a.example.com", "*.evil.example.com", ""},
		{"FOO.example.com", "*.EXAMPLE.com", "foo.example.com"},
	}
	for _, tc := range cases {
		if got := intersectHost(tc.route, tc.listener); got != tc.want {
			t.Errorf("%s ∩ %s = %q, want %q", tc.route, tc.listener, got, tc.want)
		}
	}
}

func gatewayObject(ns, name string, listeners ...map[string]any) *unstructured.Unstructured {
	var ls []any
	for _, l := range listeners {
		ls = append(ls, l)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"listeners": ls}}}
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// An HTTPRoute decides only for the hostnames its Gateways' listeners take from it: a tenant's
// route accepted through its own listener does not get (nor decide for) another tenant's host.
func TestHTTPRoutesServeWhatTheirListenersTake(t *testing.T) {
	key, listeners := fromGateway(gatewayObject("infra", "shared",
		map[string]any{"name": "tenant-a", "hostname": "*.tenant-a.example.com", "port": int64(443), "protocol": "HTTPS",
			"allowedRoutes": map[string]any{"namespaces": map[string]any{"from": "Selector"}}},
		map[string]any{"name": "evil", "hostname": "*.evil.example.com", "port": int64(443), "protocol": "HTTPS",
			"allowedRoutes": map[string]any{"namespaces": map[string]any{"from": "All"}}},
		map[string]any{"name": "plain", "hostname": "plain.example.com", "port": int64(80), "protocol": "HTTP"},
		map[string]any{"name": "tls", "hostname": "*.example.com", "port": int64(8443), "protocol": "TLS"},
	))
	cluster := Cluster{Gateways: map[string][]Listener{key: listeners}}
	route := func(ns, name, section string, hosts ...string) *Object {
		return &Object{Kind: "HTTPRoute", Namespace: ns, Name: name, Created: time.Unix(0, 0), Annotations: annotated,
			Parents: []string{"infra/shared"}, ParentRefs: []ParentRef{{Gateway: "infra/shared", Section: section}},
			Routes: []policy.ServedRoute{{Hosts: hosts, Paths: []policy.RoutedPath{{Value: "/"}}}}}
	}
	cases := map[string]struct {
		obj  *Object
		want []string
	}{
		"through its own listener": {route("evil", "r", "evil", "x.evil.example.com", "app.tenant-a.example.com"), []string{"x.evil.example.com"}},
		"every listener it may use": {route("evil", "r", "", "x.evil.example.com", "app.tenant-a.example.com", "plain.example.com"),
			[]string{"app.tenant-a.example.com", "x.evil.example.com"}}, // a Selector is not evaluated; Same keeps plain.example.com for infra
		"the listener's own namespace": {route("infra", "r", "", "plain.example.com"), []string{"plain.example.com"}},
		"no hostnames: the listener's": {route("evil", "r", "evil"), []string{"*.evil.example.com"}},
		"no listener takes it":         {route("evil", "r", "evil", "other.example.com"), nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			hosts, reason := servedHostnames(tc.obj, config.Annotations{}, cluster)
			if !slices.Equal(hosts, tc.want) || (len(tc.want) == 0) != (reason != "") {
				t.Errorf("hosts %v (%q), want %v", hosts, reason, tc.want)
			}
		})
	}
	// A Gateway betterauthz does not see leaves the route's own hostnames.
	if hosts, _ := servedHostnames(route("a", "r", "", "a.example.com"), config.Annotations{}, Cluster{Gateways: map[string][]Listener{}}); !slices.Equal(hosts, []string{"a.example.com"}) {
		t.Errorf("unknown Gateway: %v", hosts)
	}
}
