package policy

import (
	"strings"
	"testing"
)

func object(t *testing.T, kind, ns, name string, ann map[string]string, routes ...ServedRoute) *Object {
	t.Helper()
	o := &Object{Kind: kind, Namespace: ns, Name: name, Routes: routes}
	if ann != nil {
		op, err := ParseObjectRules(ann, kind+" "+ns+"/"+name)
		if err != nil {
			t.Fatal(err)
		}
		o.Rules = op
	}
	return o
}

func svcRoute(name, ns string) ServedRoute {
	return ServedRoute{Hosts: []string{name, name + "." + ns, name + "." + ns + ".svc", name + "." + ns + ".svc.cluster.local"}, Paths: []RoutedPath{{Value: "/"}}}
}

func names(rules []*Rule) string {
	var out []string
	for _, r := range rules {
		out = append(out, r.Name)
	}
	return strings.Join(out, "+")
}

func TestServedRoutes(t *testing.T) {
	objs := []*Object{
		object(t, "Service", "shop", "orders", map[string]string{KeyPolicy: "authenticated", KeyPublicPaths: "/health"}, svcRoute("orders", "shop")),
		object(t, "Service", "blog", "orders", map[string]string{KeyPolicy: "public"}, svcRoute("orders", "blog")),
		object(t, "Service", "shop", "plain", nil, svcRoute("plain", "shop")),
		object(t, "Ingress", "shop", "web", map[string]string{KeyPolicy: "public"},
			ServedRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/"}}}),
		object(t, "Ingress", "shop", "admin", map[string]string{KeyRules: "- {paths: [/admin/**], claims: {role: admin}}"},
			ServedRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/admin"}}}),
		// A more specific route with no policy: the config decides there, not the public Ingress.
		object(t, "HTTPRoute", "shop", "billing", nil,
			ServedRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/billing"}}}),
		object(t, "HTTPRoute", "shop", "checkout", map[string]string{KeyPolicy: "deny"},
			ServedRoute{Hosts: []string{"*.example.com"}, Paths: []RoutedPath{{Value: "/checkout", Exact: true}}}),
		object(t, "HTTPRoute", "shop", "partial", map[string]string{KeyPublicPaths: "/api/docs/**"},
			ServedRoute{Hosts: []string{"api.example.com"}, Paths: []RoutedPath{{Value: "/api"}}}),
		// Another namespace claims the same host and path: both policies apply.
		object(t, "Ingress", "other", "web", map[string]string{KeyPolicy: "deny"},
			ServedRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/"}}}),
		// Objects without an explicit host are never indexed: they would claim every host.
		object(t, "HTTPRoute", "dev", "everything", map[string]string{KeyPolicy: "public"},
			ServedRoute{Hosts: []string{"*"}, Paths: []RoutedPath{{Value: "/"}}}),
	}
	m := NewObjectIndex(objs)
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
		rules, configToo := m.Lookup(nil, tc.host, SplitPath(tc.path, nil), "GET", tc.destNS)
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
