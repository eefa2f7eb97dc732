package authz

import (
	"context"
	"strings"
	"testing"
)

func meshObject(t *testing.T, kind, ns, name string, ann map[string]string, routes ...MeshRoute) *MeshObject {
	t.Helper()
	op, err := ParseObjectPolicy(ann, kind+" "+ns+"/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return &MeshObject{Kind: kind, Namespace: ns, Name: name, Routes: routes, Policy: op}
}

func svcRoute(name, ns string) MeshRoute {
	return MeshRoute{Hosts: []string{name, name + "." + ns, name + "." + ns + ".svc", name + "." + ns + ".svc.cluster.local"}, Paths: []RoutedPath{{Value: "/"}}}
}

func TestMeshRoutes(t *testing.T) {
	objs := []*MeshObject{
		meshObject(t, "Service", "shop", "orders", map[string]string{KeyPolicy: "authenticated", KeyPublicPaths: "/health"}, svcRoute("orders", "shop")),
		meshObject(t, "Service", "blog", "orders", map[string]string{KeyPolicy: "public"}, svcRoute("orders", "blog")),
		meshObject(t, "Ingress", "shop", "web", map[string]string{KeyPolicy: "public"},
			MeshRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/"}}}),
		meshObject(t, "Ingress", "shop", "admin", map[string]string{KeyRules: "- {paths: [/admin/**], claims: {role: admin}}"},
			MeshRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/admin"}}}),
		meshObject(t, "HTTPRoute", "shop", "checkout", map[string]string{KeyPolicy: "deny"},
			MeshRoute{Hosts: []string{"*.example.com"}, Paths: []RoutedPath{{Value: "/checkout", Exact: true}}}),
		meshObject(t, "HTTPRoute", "shop", "partial", map[string]string{KeyPublicPaths: "/api/docs/**"},
			MeshRoute{Hosts: []string{"api.example.com"}, Paths: []RoutedPath{{Value: "/api"}}}),
		meshObject(t, "Ingress", "other", "web", map[string]string{KeyPolicy: "deny"},
			MeshRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/"}}}),
	}
	m := NewMeshRoutes(objs, false)
	cases := []struct {
		host, path string
		want       string // rule name, or "" for no opinion
	}{
		{"orders.shop.svc.cluster.local", "/x", "Service shop/orders betterauthz.io/policy"},
		{"orders.shop", "/health", "Service shop/orders betterauthz.io/public-paths"},
		{"orders.blog.svc", "/x", "Service blog/orders betterauthz.io/policy"},
		// "orders" alone is claimed by both Services: the tie resolves by namespace (blog first).
		{"orders", "/x", "Service blog/orders betterauthz.io/policy"},
		{"shop.example.com", "/", "Ingress other/web betterauthz.io/policy"},
		{"shop.example.com", "/admin/users", "Ingress shop/admin betterauthz.io/rules[0]"},
		{"shop.example.com", "/adminx", "Ingress other/web betterauthz.io/policy"},
		{"shop.example.com", "/admin", "Ingress shop/admin betterauthz.io/rules[0]"},
		{"api.example.com", "/checkout", "HTTPRoute shop/checkout betterauthz.io/policy"},
		{"api.example.com", "/checkout/x", ""},
		{"api.example.com", "/api/docs/a", "HTTPRoute shop/partial betterauthz.io/public-paths"},
		{"api.example.com", "/api/other", ""},
		{"unknown.host", "/", ""},
	}
	for _, tc := range cases {
		r, ok := m.lookup(tc.host, splitPath(tc.path, nil), "GET")
		got := ""
		if ok {
			got = r.Name
		}
		if got != tc.want {
			t.Errorf("%s%s: %q, want %q", tc.host, tc.path, got, tc.want)
		}
	}
	var conflicts []string
	for _, c := range m.Conflicts {
		conflicts = append(conflicts, c.String())
	}
	want := []string{
		"host orders path / (prefix) is claimed by Service blog/orders, Service shop/orders; Service blog/orders wins",
		"host shop.example.com path / (prefix) is claimed by Ingress other/web, Ingress shop/web; Ingress other/web wins",
	}
	if strings.Join(conflicts, "\n") != strings.Join(want, "\n") {
		t.Errorf("conflicts:\n%s\nwant:\n%s", strings.Join(conflicts, "\n"), strings.Join(want, "\n"))
	}
}

func TestMeshPrecedenceAndTighten(t *testing.T) {
	p := routedPolicy(t) // config: /admin/** needs role admin, /internal/** deny, default authenticated
	public := meshObject(t, "Service", "shop", "api", map[string]string{KeyPolicy: "public"}, MeshRoute{Hosts: []string{"api"}, Paths: []RoutedPath{{Value: "/"}}})
	v := fakeVerifier{"user": claims(`{"sub":"u","role":"user"}`)}
	decide := func(mesh *MeshRoutes, path string, h map[string]string, ext map[string]string) Decision {
		cr := httpCheck("GET", "api", path, h)
		cr.Attributes.ContextExtensions = ext
		r, _ := Extract(cr)
		return Decide(context.Background(), &Snapshot{Policy: p, Verifier: v, Mesh: mesh}, r)
	}
	replace := NewMeshRoutes([]*MeshObject{public}, false)
	if d := decide(replace, "/internal/x", nil, nil); d.Reason != ReasonPublic {
		t.Errorf("annotation over config routes: %s", d.Reason)
	}
	if d := decide(replace, "/x", nil, map[string]string{KeyPolicy: "deny"}); d.Reason != ReasonPolicyDenied {
		t.Errorf("context_extensions over annotations: %s", d.Reason)
	}
	tighten := NewMeshRoutes([]*MeshObject{public}, true)
	if d := decide(tighten, "/internal/x", nil, nil); d.Reason != ReasonPolicyDenied || d.Route != "Service shop/api betterauthz.io/policy+internal" {
		t.Errorf("allowPublic false, public annotation on a denied path: %s via %s", d.Reason, d.Route)
	}
	if d := decide(tighten, "/x", nil, nil); d.Reason != ReasonMissingToken {
		t.Errorf("allowPublic false, public annotation: %s", d.Reason)
	}
	strict := NewMeshRoutes([]*MeshObject{meshObject(t, "Service", "shop", "api", map[string]string{KeyRules: "- claims: {role: editor}"}, MeshRoute{Hosts: []string{"api"}, Paths: []RoutedPath{{Value: "/"}}})}, true)
	if d := decide(strict, "/x", map[string]string{"authorization": "Bearer user"}, nil); d.Reason != ReasonInsufficientClaims {
		t.Errorf("allowPublic false still lets annotations tighten: %s", d.Reason)
	}
}
