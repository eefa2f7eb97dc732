package authz

import (
	"context"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

func meshObject(t *testing.T, kind, ns, name string, ann map[string]string, routes ...MeshRoute) *MeshObject {
	t.Helper()
	o := &MeshObject{Kind: kind, Namespace: ns, Name: name, Routes: routes}
	if ann != nil {
		op, err := ParseObjectPolicy(ann, kind+" "+ns+"/"+name)
		if err != nil {
			t.Fatal(err)
		}
		o.Policy = op
	}
	return o
}

func svcRoute(name, ns string) MeshRoute {
	return MeshRoute{Hosts: []string{name, name + "." + ns, name + "." + ns + ".svc", name + "." + ns + ".svc.cluster.local"}, Paths: []RoutedPath{{Value: "/"}}}
}

func names(rules []*Rule) string {
	var out []string
	for _, r := range rules {
		out = append(out, r.Name)
	}
	return strings.Join(out, "+")
}

func TestMeshRoutes(t *testing.T) {
	objs := []*MeshObject{
		meshObject(t, "Service", "shop", "orders", map[string]string{KeyPolicy: "authenticated", KeyPublicPaths: "/health"}, svcRoute("orders", "shop")),
		meshObject(t, "Service", "blog", "orders", map[string]string{KeyPolicy: "public"}, svcRoute("orders", "blog")),
		meshObject(t, "Service", "shop", "plain", nil, svcRoute("plain", "shop")),
		meshObject(t, "Ingress", "shop", "web", map[string]string{KeyPolicy: "public"},
			MeshRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/"}}}),
		meshObject(t, "Ingress", "shop", "admin", map[string]string{KeyRules: "- {paths: [/admin/**], claims: {role: admin}}"},
			MeshRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/admin"}}}),
		// A more specific route with no policy: the config decides there, not the public Ingress.
		meshObject(t, "HTTPRoute", "shop", "billing", nil,
			MeshRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/billing"}}}),
		meshObject(t, "HTTPRoute", "shop", "checkout", map[string]string{KeyPolicy: "deny"},
			MeshRoute{Hosts: []string{"*.example.com"}, Paths: []RoutedPath{{Value: "/checkout", Exact: true}}}),
		meshObject(t, "HTTPRoute", "shop", "partial", map[string]string{KeyPublicPaths: "/api/docs/**"},
			MeshRoute{Hosts: []string{"api.example.com"}, Paths: []RoutedPath{{Value: "/api"}}}),
		// Another namespace claims the same host and path: both policies apply.
		meshObject(t, "Ingress", "other", "web", map[string]string{KeyPolicy: "deny"},
			MeshRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/"}}}),
		// Objects without an explicit host are never indexed: they would claim every host.
		meshObject(t, "HTTPRoute", "dev", "everything", map[string]string{KeyPolicy: "public"},
			MeshRoute{Hosts: []string{"*"}, Paths: []RoutedPath{{Value: "/"}}}),
	}
	m := NewMeshRoutes(objs)
	cases := []struct {
		host, path, destNS string
		want               string // rule names joined with +; "" for none
		configToo          bool
	}{
		{"orders.shop.svc.cluster.local", "/x", "", "Service shop/orders betterauthz.io/policy", false},
		{"orders.shop", "/health", "", "Service shop/orders betterauthz.io/public-paths", false},
		{"orders.blog.svc", "/x", "", "Service blog/orders betterauthz.io/policy", false},
		// "orders" alone names a Service in two namespaces: both policies apply.
		{"orders", "/x", "", "Service blog/orders betterauthz.io/policy+Service shop/orders betterauthz.io/policy", false},
		// ...unless Envoy says which namespace receives the request.
		{"orders", "/x", "shop", "Service shop/orders betterauthz.io/policy", false},
		{"orders.blog", "/x", "shop", "", true}, // blog's Service cannot speak for shop's workload
		{"plain.shop", "/x", "", "", true},      // an object without a policy: the config decides
		{"shop.example.com", "/", "", "Ingress other/web betterauthz.io/policy+Ingress shop/web betterauthz.io/policy", false},
		{"shop.example.com", "/admin/users", "", "Ingress shop/admin betterauthz.io/rules[0]", false},
		{"shop.example.com", "/adminx", "", "Ingress other/web betterauthz.io/policy+Ingress shop/web betterauthz.io/policy", false},
		{"shop.example.com", "/billing/x", "", "", true},
		{"api.example.com", "/checkout", "", "HTTPRoute shop/checkout betterauthz.io/policy", false},
		{"api.example.com", "/checkout/x", "", "", true},
		{"api.example.com", "/api/docs/a", "", "HTTPRoute shop/partial betterauthz.io/public-paths", false},
		{"api.example.com", "/api/other", "", "", true}, // served, but the object has no rule for it
		{"unknown.host", "/", "", "", true},
		{"payments.prod.svc.cluster.local", "/admin", "", "", true}, // the host-less route claims nothing
	}
	for _, tc := range cases {
		rules, configToo := m.lookup(nil, tc.host, splitPath(tc.path, nil), "GET", tc.destNS)
		if got := names(rules); got != tc.want || configToo != tc.configToo {
			t.Errorf("%s%s (dest %q): %q config %v, want %q config %v", tc.host, tc.path, tc.destNS, got, configToo, tc.want, tc.configToo)
		}
	}
	var conflicts []string
	for _, c := range m.Conflicts {
		conflicts = append(conflicts, c.String())
	}
	for _, w := range []string{
		"host orders path / (prefix) is claimed by Service blog/orders, Service shop/orders; the policies of all of them apply",
		"host shop.example.com path / (prefix) is claimed by Ingress other/web, Ingress shop/web; the policies of all of them apply",
	} {
		found := false
		for _, c := range conflicts {
			found = found || c == w
		}
		if !found {
			t.Errorf("conflicts lack %q:\n%s", w, strings.Join(conflicts, "\n"))
		}
	}
}

func TestMeshPrecedenceAndTighten(t *testing.T) {
	// The config: /admin/** needs role admin, /internal/** deny, default authenticated.
	public := meshObject(t, "Service", "shop", "api", map[string]string{KeyPolicy: "public"}, MeshRoute{Hosts: []string{"api"}, Paths: []RoutedPath{{Value: "/"}}})
	v := fakeVerifier{"user": claims(`{"sub":"u","role":"user"}`)}
	decide := func(mesh *MeshRoutes, tighten bool, path string, h map[string]string, ext map[string]string) Decision {
		cr := httpCheck("GET", "api", path, h)
		cr.Attributes.ContextExtensions = ext
		r, _ := Extract(cr)
		pol := routedPolicy(t)
		pol.AnnotationsOnlyTighten = tighten
		return Decide(context.Background(), &Snapshot{Policy: pol, Verifier: v, Mesh: mesh}, r)
	}
	mesh := NewMeshRoutes([]*MeshObject{public})
	if d := decide(mesh, false, "/internal/x", nil, nil); d.Reason != ReasonPublic {
		t.Errorf("annotation over config routes: %s", d.Reason)
	}
	if d := decide(mesh, false, "/x", nil, map[string]string{KeyPolicy: "deny"}); d.Reason != ReasonPolicyDenied {
		t.Errorf("context_extensions over annotations: %s", d.Reason)
	}
	if d := decide(mesh, true, "/internal/x", nil, nil); d.Reason != ReasonPolicyDenied || d.Route != "Service shop/api betterauthz.io/policy+internal" {
		t.Errorf("allowPublic false, public annotation on a denied path: %s via %s", d.Reason, d.Route)
	}
	if d := decide(mesh, true, "/x", nil, nil); d.Reason != ReasonMissingToken {
		t.Errorf("allowPublic false, public annotation: %s", d.Reason)
	}
	strict := NewMeshRoutes([]*MeshObject{meshObject(t, "Service", "shop", "api", map[string]string{KeyRules: "- claims: {role: editor}"}, MeshRoute{Hosts: []string{"api"}, Paths: []RoutedPath{{Value: "/"}}})})
	if d := decide(strict, true, "/x", map[string]string{"authorization": "Bearer user"}, nil); d.Reason != ReasonInsufficientClaims {
		t.Errorf("allowPublic false still lets annotations tighten: %s", d.Reason)
	}
}

func TestDestinationNamespace(t *testing.T) {
	req := httpCheck("GET", "orders", "/", nil)
	req.Attributes.Destination = &authv3.AttributeContext_Peer{Principal: "spiffe://cluster.local/ns/shop/sa/orders"}
	r, err := Extract(req)
	if err != nil || r.DestinationNamespace != "shop" {
		t.Fatalf("%q %v", r.DestinationNamespace, err)
	}
	for _, p := range []string{"", "spiffe://cluster.local", "spiffe://td/ns", "https://x/ns/a"} {
		if got := spiffeNamespace(p); got != "" {
			t.Errorf("spiffeNamespace(%q) = %q", p, got)
		}
	}
}
