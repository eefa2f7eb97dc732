package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
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

func names(rules []*Rule) string {
	var out []string
	for _, r := range rules {
		out = append(out, r.Name)
	}
	return strings.Join(out, "+")
}

// at is a creation time: day d of 2024.
func at(d int) time.Time { return time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC) }

func aged(o *Object, day int) *Object {
	o.Created = at(day)
	return o
}

func svcRoute(name, ns string) []ServedRoute {
	return []ServedRoute{{Hosts: []string{name, name + "." + ns, name + "." + ns + ".svc", name + "." + ns + ".svc.cluster.local"}, Paths: []RoutedPath{{Value: "/"}}}}
}

func TestServedRoutes(t *testing.T) {
	objs := []*Object{
		aged(object(t, "Service", "shop", "orders", map[string]string{KeyPolicy: "authenticated", KeyPublicPaths: "/health"}, svcRoute("orders", "shop")...), 1),
		aged(object(t, "Service", "blog", "orders", map[string]string{KeyPolicy: "public"}, svcRoute("orders", "blog")...), 2),
		aged(object(t, "Service", "shop", "plain", nil, svcRoute("plain", "shop")...), 1),
		aged(object(t, "Ingress", "shop", "web", map[string]string{KeyPolicy: "public"},
			ServedRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/"}}}), 3),
		aged(object(t, "Ingress", "shop", "admin", map[string]string{KeyRules: "- {paths: [/admin/**], claims: {role: admin}}"},
			ServedRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/admin"}}}), 4),
		// A more specific route with no policy: the config decides there, not the public Ingress.
		aged(object(t, "HTTPRoute", "shop", "billing", nil,
			ServedRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/billing"}}}), 5),
		aged(object(t, "HTTPRoute", "shop", "checkout", map[string]string{KeyPolicy: "deny"},
			ServedRoute{Hosts: []string{"*.example.com"}, Paths: []RoutedPath{{Value: "/checkout", Exact: true}}}), 6),
		aged(object(t, "HTTPRoute", "shop", "partial", map[string]string{KeyPublicPaths: "/api/docs/**"},
			ServedRoute{Hosts: []string{"api.example.com"}, Paths: []RoutedPath{{Value: "/api"}}}), 7),
		// Objects without an explicit host are never indexed: they would claim every host.
		aged(object(t, "HTTPRoute", "dev", "everything", map[string]string{KeyPolicy: "public"},
			ServedRoute{Hosts: []string{"*"}, Paths: []RoutedPath{{Value: "/"}}}), 0),
		// Another namespace, later, claims shop's host: it decides nothing there, neither to
		// close (deny) its paths nor to open (public) the one it routes more precisely.
		aged(object(t, "Ingress", "other", "web", map[string]string{KeyPolicy: "deny"},
			ServedRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/"}}}), 8),
		aged(object(t, "Ingress", "other", "cart", map[string]string{KeyPolicy: "public"},
			ServedRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/admin/cart"}}}), 8),
		// An older wildcard of another namespace never decides for a host named exactly...
		aged(object(t, "Ingress", "wild", "all", map[string]string{KeyPolicy: "public"},
			ServedRoute{Hosts: []string{"*.example.com"}, Paths: []RoutedPath{{Value: "/"}}}), 0),
		// ...and an old claim to a Service's namespaced name wins nothing either.
		aged(object(t, "Ingress", "wild", "svc", map[string]string{KeyPolicy: "public"},
			ServedRoute{Hosts: []string{"orders.shop.svc.cluster.local"}, Paths: []RoutedPath{{Value: "/"}}}), 0),
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
		// "orders" alone names a Service in two namespaces: the older one's decides.
		{"orders", "/x", "", "Service shop/orders betterauthz.io/policy", false},
		// ...unless Envoy says which namespace receives the request.
		{"orders", "/x", "blog", "Service blog/orders betterauthz.io/policy", false},
		{"orders.blog", "/x", "shop", "", true}, // blog's Service cannot speak for shop's workload
		{"plain.shop", "/x", "", "", true},      // an object without a policy: the config decides
		{"shop.example.com", "/", "", "Ingress shop/web betterauthz.io/policy", false},
		{"shop.example.com", "/admin/users", "", "Ingress shop/admin betterauthz.io/rules[0]", false},
		// other/cart routes it: the config decides, and the owner's objects still apply.
		{"shop.example.com", "/admin/cart/x", "", "Ingress shop/admin betterauthz.io/rules[0]", true},
		{"shop.example.com", "/adminx", "", "Ingress shop/web betterauthz.io/policy", false},
		{"shop.example.com", "/billing/x", "", "", true},
		{"shop.example.com", "/x", "other", "Ingress other/web betterauthz.io/policy", false}, // other's own workload
		{"shop.example.com", "/checkout", "", "Ingress shop/web betterauthz.io/policy", false},
		{"api.example.com", "/checkout", "", "HTTPRoute shop/checkout betterauthz.io/policy", false},
		{"api.example.com", "/checkout/x", "", "", true}, // wild/all's wildcard: api.example.com is shop's
		{"api.example.com", "/api/docs/a", "", "HTTPRoute shop/partial betterauthz.io/public-paths", false},
		{"api.example.com", "/api/other", "", "", true}, // served, but the object has no rule for it
		// *.example.com: wild/all is older than shop/checkout, which only adds the config.
		{"www.example.com", "/checkout", "", "Ingress wild/all betterauthz.io/policy", true},
		{"www.example.com", "/x", "", "Ingress wild/all betterauthz.io/policy", false},
		{"www.example.com", "/checkout", "shop", "HTTPRoute shop/checkout betterauthz.io/policy", false},
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
		"host orders is named by objects of several namespaces (Service blog/orders, Service shop/orders); namespace shop owns it",
		"host shop.example.com is named by objects of several namespaces (HTTPRoute shop/billing, Ingress other/cart, Ingress other/web, Ingress shop/admin, Ingress shop/web); namespace shop owns it",
		"host orders.shop.svc.cluster.local is named by objects of several namespaces (Ingress wild/svc, Service shop/orders); namespace shop owns it",
		"host *.example.com is named by objects of several namespaces (HTTPRoute shop/checkout, Ingress wild/all); namespace wild owns it",
	} {
		if !slices.ContainsFunc(conflicts, func(c string) bool { return strings.HasPrefix(c, w) }) {
			t.Errorf("conflicts lack %q:\n%s", w, strings.Join(conflicts, "\n"))
		}
	}
}

// Objects of one namespace that claim the same host and path all apply: a second object can
// never open what the first closes.
func TestTiesWithinANamespaceApplyEveryPolicy(t *testing.T) {
	route := ServedRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/"}}}
	m := NewObjectIndex([]*Object{
		aged(object(t, "Ingress", "shop", "a", map[string]string{KeyPolicy: "public"}, route), 1),
		aged(object(t, "Ingress", "shop", "b", map[string]string{KeyPolicy: "deny"}, route), 2),
	})
	rules, configToo := m.Lookup(nil, "shop.example.com", SplitPath("/x", nil), "GET", "")
	if got := names(rules); got != "Ingress shop/a betterauthz.io/policy+Ingress shop/b betterauthz.io/policy" || configToo {
		t.Errorf("%q config %v", got, configToo)
	}
	want := "host shop.example.com path / (prefix) is claimed by Ingress shop/a, Ingress shop/b; the policies of all of them apply"
	if len(m.Conflicts) != 1 || m.Conflicts[0].String() != want {
		t.Errorf("conflicts %v", m.Conflicts)
	}
}

// An object whose paths cannot be read tightens every path of its hosts, and opens none.
func TestTightenOnlyObjects(t *testing.T) {
	regex := func(ann map[string]string) *Object {
		o := aged(object(t, "Ingress", "shop", "regex", ann, ServedRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/admin(/|$)(.*)"}}}), 2)
		o.TightenOnly = true
		return o
	}
	web := aged(object(t, "Ingress", "shop", "web", map[string]string{KeyPublicPaths: "/docs/**"},
		ServedRoute{Hosts: []string{"shop.example.com"}, Paths: []RoutedPath{{Value: "/docs"}}}), 1)
	cases := map[string]struct {
		ann             map[string]string
		path, want      string
		configToo       bool
		dest, wantOther string
	}{
		"deny closes its whole host":        {ann: map[string]string{KeyPolicy: "deny"}, path: "/admin/x", want: "Ingress shop/regex betterauthz.io/policy", configToo: true},
		"...more specific objects included": {ann: map[string]string{KeyPolicy: "deny"}, path: "/docs/a", want: "Ingress shop/web betterauthz.io/public-paths+Ingress shop/regex betterauthz.io/policy"},
		"public opens nothing":              {ann: map[string]string{KeyPolicy: "public"}, path: "/admin/x", want: "", configToo: true},
		"a first public rule is no opinion": {ann: map[string]string{KeyRules: "- {paths: [/admin/**], policy: public}\n- {policy: deny}"}, path: "/admin/x", want: "", configToo: true},
		"claims add":                        {ann: map[string]string{KeyRules: "- {paths: [/admin/**], claims: {role: admin}}"}, path: "/admin/x", want: "Ingress shop/regex betterauthz.io/rules[0]", configToo: true},
		"another workload's request":        {ann: map[string]string{KeyPolicy: "deny"}, path: "/admin/x", dest: "other", want: "", configToo: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := NewObjectIndex([]*Object{web, regex(tc.ann)})
			rules, configToo := m.Lookup(nil, "shop.example.com", SplitPath(tc.path, nil), "GET", tc.dest)
			if got := names(rules); got != tc.want || configToo != tc.configToo {
				t.Errorf("%q config %v, want %q config %v", got, configToo, tc.want, tc.configToo)
			}
		})
	}
}

// What a tenant can claim is bounded: no IP addresses, no whole public suffixes, no Services of
// every namespace, and another namespace's Service names never, even when that namespace's
// objects are not seen (not watched, or no Service yet).
func TestHostsNoTenantCanClaim(t *testing.T) {
	evil := func(name, host string) *Object {
		return aged(object(t, "Ingress", "evil", name, map[string]string{KeyPolicy: "deny"},
			ServedRoute{Hosts: []string{host}, Paths: []RoutedPath{{Value: "/"}}}), 0)
	}
	m := NewObjectIndex([]*Object{
		evil("ip", "10.96.0.15"), evil("com", "*.com"), evil("couk", "*.co.uk"),
		evil("svcs", "*.svc.cluster.local"), evil("platform", "*.platform.svc.cluster.local"),
		evil("api", "api.platform.svc"),
	})
	for _, host := range []string{"10.96.0.15", "admin.example.com", "shop.co.uk", "orders.shop.svc.cluster.local", "api.platform.svc.cluster.local", "api.platform.svc"} {
		if rules, configToo := m.Lookup(nil, host, SplitPath("/x", nil), "GET", ""); len(rules) != 0 || !configToo {
			t.Errorf("%s: %s (config %v)", host, names(rules), configToo)
		}
	}
	if len(m.Dropped) != 4 {
		t.Errorf("dropped %q", m.Dropped)
	}
	// The platform's own objects decide for its names.
	own := NewObjectIndex([]*Object{evil("platform", "*.platform.svc.cluster.local"),
		aged(object(t, "Service", "platform", "api", map[string]string{KeyPolicy: "public"}, svcRoute("api", "platform")...), 9)})
	if rules, _ := own.Lookup(nil, "api.platform.svc.cluster.local", SplitPath("/x", nil), "GET", ""); names(rules) != "Service platform/api betterauthz.io/policy" {
		t.Errorf("the platform's Service: %s", names(rules))
	}
}

// Another namespace's route that betterauthz reads as more precise (it may match on headers
// betterauthz does not see) adds the config; it never takes the owner's checks off the path.
func TestAnotherNamespacesRouteNeverRemovesTheOwnersChecks(t *testing.T) {
	m := NewObjectIndex([]*Object{
		aged(object(t, "Ingress", "a", "app", map[string]string{KeyRules: "- claims: {role: admin}"},
			ServedRoute{Hosts: []string{"app.example.com"}, Paths: []RoutedPath{{Value: "/"}}}), 1),
		aged(object(t, "HTTPRoute", "b", "headers", nil,
			ServedRoute{Hosts: []string{"app.example.com"}, Paths: []RoutedPath{{Value: "/admin"}}}), 2),
	})
	rules, configToo := m.Lookup(nil, "app.example.com", SplitPath("/admin/users", nil), "GET", "")
	if names(rules) != "Ingress a/app betterauthz.io/rules[0]" || !configToo {
		t.Errorf("%s config %v", names(rules), configToo)
	}
}

// The case-insensitive reading picks objects case-insensitively too: /ADMIN/x is served by the
// /admin object for a backend that reads paths without case.
func TestFoldedReadingPicksObjectsWithoutCase(t *testing.T) {
	m := NewObjectIndex([]*Object{
		aged(object(t, "Ingress", "a", "admin", map[string]string{KeyRules: "- claims: {role: admin}"},
			ServedRoute{Hosts: []string{"app.example.com"}, Paths: []RoutedPath{{Value: "/admin"}}}), 1),
		aged(object(t, "Ingress", "a", "site", map[string]string{KeyPolicy: "public"},
			ServedRoute{Hosts: []string{"app.example.com"}, Paths: []RoutedPath{{Value: "/"}}}), 1),
	})
	p := SplitPath("/ADMIN/x", nil)
	if rules, _ := m.Lookup(nil, "app.example.com", p, "GET", ""); names(rules) != "Ingress a/site betterauthz.io/policy" {
		t.Errorf("as sent: %s", names(rules))
	}
	if rules, _ := m.Lookup(nil, "app.example.com", p.Folded(nil), "GET", ""); names(rules) != "Ingress a/admin betterauthz.io/rules[0]" {
		t.Errorf("folded: %s", names(rules))
	}
}

// Ties are found whatever else the host routes, and bounded per namespace.
func TestTiesAreFoundAndBounded(t *testing.T) {
	objs := []*Object{
		object(t, "Ingress", "a", "x", map[string]string{KeyPolicy: "deny"}, ServedRoute{Hosts: []string{"h.example.com"}, Paths: []RoutedPath{{Value: "/aa"}, {Value: "/bb"}}}),
		object(t, "Ingress", "a", "y", map[string]string{KeyPolicy: "public"}, ServedRoute{Hosts: []string{"h.example.com"}, Paths: []RoutedPath{{Value: "/aa"}}}),
	}
	m := NewObjectIndex(objs)
	if len(m.Conflicts) != 1 || m.Conflicts[0].Path != "/aa (prefix)" {
		t.Errorf("conflicts %v", m.Conflicts)
	}
	for i := range MaxTiedObjects + 4 {
		objs = append(objs, object(t, "Ingress", "a", fmt.Sprintf("z%02d", i), map[string]string{KeyPolicy: "public"},
			ServedRoute{Hosts: []string{"h.example.com"}, Paths: []RoutedPath{{Value: "/aa"}}}))
	}
	m = NewObjectIndex(objs)
	rules, _ := m.Lookup(nil, "h.example.com", SplitPath("/aa", nil), "GET", "")
	if len(rules) != MaxTiedObjects || len(m.Dropped) != 6 {
		t.Errorf("%d rules, dropped %d", len(rules), len(m.Dropped))
	}
}

// An owner's route that its Gateway has not accepted again yet keeps the owner's claim: the
// host does not pass to another namespace for that moment.
func TestClaimOnlyObjectsKeepTheirHosts(t *testing.T) {
	owner := aged(object(t, "HTTPRoute", "a", "app", map[string]string{KeyPolicy: "public"},
		ServedRoute{Hosts: []string{"app.example.com"}, Paths: []RoutedPath{{Value: "/"}}}), 1)
	owner.ClaimOnly = true
	m := NewObjectIndex([]*Object{owner, aged(object(t, "Ingress", "b", "squat", map[string]string{KeyPolicy: "deny"},
		ServedRoute{Hosts: []string{"app.example.com"}, Paths: []RoutedPath{{Value: "/"}}}), 2)})
	if rules, configToo := m.Lookup(nil, "app.example.com", SplitPath("/x", nil), "GET", ""); len(rules) != 0 || !configToo {
		t.Errorf("%s config %v", names(rules), configToo)
	}
	if len(m.Objects) != 1 || m.Objects[0].Name != "squat" {
		t.Errorf("listed %v", m.Objects)
	}
}
