package kube

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
)

var annotated = map[string]string{"betterauthz.io/policy": "public"}

func TestFromIngress(t *testing.T) {
	exact, prefix, impl := networkingv1.PathTypeExact, networkingv1.PathTypePrefix, networkingv1.PathTypeImplementationSpecific
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Annotations: annotated},
		Spec: networkingv1.IngressSpec{
			DefaultBackend: &networkingv1.IngressBackend{},
			Rules: []networkingv1.IngressRule{
				{Host: "a.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
					{Path: "/x", PathType: &exact}, {Path: "/y", PathType: &prefix}, {Path: "/z", PathType: &impl}, {PathType: &prefix},
				}}}},
				{Host: "", IngressRuleValue: networkingv1.IngressRuleValue{}},
			},
		},
	}
	o := fromIngress(asIngress(t, ing))
	// The host-less rule and the default backend are left out, with a note.
	want := []policy.ServedRoute{
		{Hosts: []string{"a.example.com"}, Paths: []policy.RoutedPath{{Value: "/x", Exact: true}, {Value: "/y"}, {Value: "/z"}, {Value: "/"}}},
	}
	if len(o.Notes) != 1 || !strings.Contains(o.Notes[0], "without a host") {
		t.Errorf("notes %v", o.Notes)
	}
	if len(o.Routes) != len(want) {
		t.Fatalf("routes %+v", o.Routes)
	}
	for i := range want {
		if !slices.Equal(o.Routes[i].Hosts, want[i].Hosts) || !slices.Equal(o.Routes[i].Paths, want[i].Paths) {
			t.Errorf("route %d: %+v, want %+v", i, o.Routes[i], want[i])
		}
	}
}

// asIngress is ing as betterauthz decodes it from the API server's JSON.
func asIngress(t *testing.T, ing *networkingv1.Ingress) *networkingv1.Ingress {
	t.Helper()
	b, err := json.Marshal(ing)
	if err != nil {
		t.Fatal(err)
	}
	out := &networkingv1.Ingress{}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// toUnstructured is obj as the dynamic client receives it.
func toUnstructured(t *testing.T, obj any) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func httpRoute(spec map[string]any, accepted bool) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "r", "namespace": "n", "annotations": map[string]any{"betterauthz.io/policy": "deny"}},
		"spec":     spec,
	}}
	u.SetGeneration(1)
	if accepted {
		u.Object["status"] = map[string]any{"parents": []any{map[string]any{
			"parentRef":  map[string]any{"name": "gw"},
			"conditions": []any{map[string]any{"type": "Accepted", "status": "True", "observedGeneration": int64(1)}},
		}}}
	}
	return u
}

func TestFromHTTPRoute(t *testing.T) {
	spec := map[string]any{
		"hostnames": []any{"a.example.com"},
		"rules": []any{
			map[string]any{"matches": []any{
				map[string]any{"path": map[string]any{"type": "Exact", "value": "/e"}},
				map[string]any{"path": map[string]any{"value": "/p"}},
				map[string]any{"headers": []any{}},
			}},
			map[string]any{},
		},
	}
	o := fromHTTPRoute(httpRoute(spec, true))
	if len(o.Routes) != 1 || !slices.Equal(o.Routes[0].Hosts, []string{"a.example.com"}) {
		t.Fatalf("routes %+v", o.Routes)
	}
	want := []policy.RoutedPath{{Value: "/e", Exact: true}, {Value: "/p"}, {Value: "/"}, {Value: "/"}}
	if !slices.Equal(o.Routes[0].Paths, want) || o.Regex {
		t.Errorf("paths %+v (regex %v), want %+v", o.Routes[0].Paths, o.Regex, want)
	}
	if !slices.Equal(o.Parents, []string{"n/gw"}) {
		t.Errorf("parents %v", o.Parents)
	}

	// A regular-expression match: betterauthz cannot tell which paths the route serves.
	rules := spec["rules"].([]any)
	regex := map[string]any{"hostnames": spec["hostnames"], "rules": append([]any{map[string]any{"matches": []any{
		map[string]any{"path": map[string]any{"type": "RegularExpression", "value": "/r.*"}}}}}, rules...)}
	if o := fromHTTPRoute(httpRoute(regex, true)); !o.Regex || len(o.Routes) != 1 || !strings.Contains(strings.Join(o.RegexReasons, ""), `RegularExpression path "/r.*" cannot be read`) {
		t.Errorf("a regular-expression match: %+v", o)
	}
	if o := fromHTTPRoute(httpRoute(spec, false)); len(o.Parents) != 0 {
		t.Errorf("a route no Gateway accepted has parents %v", o.Parents)
	}
	// A route without hostnames serves its listeners' hosts: without the Gateways, not indexed.
	hostless := fromHTTPRoute(httpRoute(map[string]any{"rules": []any{map[string]any{}}}, true))
	built := BuildIndex([]*Object{hostless}, config.Annotations{Enabled: true, ClusterDomain: "cluster.local"}, Cluster{})
	if len(built.Objects.Objects) != 0 || len(built.Ignored) != 1 || !strings.Contains(built.Ignored[0].Reason, "no spec.hostnames") {
		t.Errorf("a route without hostnames is indexed: %+v", built.Ignored)
	}
}

// A route counts only through parents that accepted it as it is now: a Gateway (not another
// kind of parent), Accepted=True, at the route's current generation.
func TestHTTPRouteParents(t *testing.T) {
	parent := func(ref map[string]any, status string, gen int64) any {
		return map[string]any{"parentRef": ref, "conditions": []any{
			map[string]any{"type": "ResolvedRefs", "status": "True", "observedGeneration": gen},
			map[string]any{"type": "Accepted", "status": status, "observedGeneration": gen},
		}}
	}
	cases := map[string]struct {
		parents []any
		want    []string
	}{
		"accepted now":                 {[]any{parent(map[string]any{"name": "gw"}, "True", 3)}, []string{"n/gw"}},
		"accepted at an earlier spec":  {[]any{parent(map[string]any{"name": "gw"}, "True", 2)}, nil},
		"refused":                      {[]any{parent(map[string]any{"name": "gw"}, "False", 3)}, nil},
		"another namespace's Gateway":  {[]any{parent(map[string]any{"name": "gw", "namespace": "infra"}, "True", 3)}, []string{"infra/gw"}},
		"explicit Gateway kind":        {[]any{parent(map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}, "True", 3)}, []string{"n/gw"}},
		"a Service parent (mesh)":      {[]any{parent(map[string]any{"group": "", "kind": "Service", "name": "svc"}, "True", 3)}, nil},
		"another group's Gateway kind": {[]any{parent(map[string]any{"group": "example.com", "kind": "Gateway", "name": "gw"}, "True", 3)}, nil},
		"several, one accepted": {[]any{parent(map[string]any{"name": "a"}, "False", 3), parent(map[string]any{"name": "b"}, "True", 3)},
			[]string{"n/b"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			u := httpRoute(map[string]any{"hostnames": []any{"a.example.com"}}, false)
			u.SetGeneration(3)
			u.Object["status"] = map[string]any{"parents": tc.parents}
			if got := fromHTTPRoute(u).Parents; !slices.Equal(got, tc.want) {
				t.Errorf("parents %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBuildIndex(t *testing.T) {
	objs := []*Object{
		{Kind: "Service", Namespace: "a", Name: "s", Annotations: annotated},
		{Kind: "Service", Namespace: "a", Name: "plain"},
		{Kind: "Service", Namespace: "a", Name: "bad", Annotations: map[string]string{"betterauthz.io/policy": "open"}},
	}
	built := BuildIndex(objs, config.Annotations{Enabled: true, AllowPublic: true, ClusterDomain: "corp.local"}, Cluster{})
	m, invalid := built.Objects, built.Invalid
	// Objects with a policy are listed; all three are indexed (plain and bad without a policy).
	if len(m.Objects) != 1 || len(invalid) != 1 || invalid[0].Object.Name != "bad" {
		t.Fatalf("objects %d invalid %+v", len(m.Objects), invalid)
	}
	var hosts []string
	for _, r := range m.Objects[0].Routes {
		hosts = append(hosts, r.Hosts...)
	}
	if !slices.Equal(hosts, []string{"s", "s.a", "s.a.svc", "s.a.svc.corp.local"}) {
		t.Errorf("service hosts %v", hosts)
	}
}

// Only objects that route traffic to the proxies that ask this betterauthz decide: an Ingress
// of a class that exists (and is listed, when ingressClasses is set), an HTTPRoute through a
// Gateway that accepted it (and is listed, when gateways is set); at a sidecar, only objects
// of its workload's namespace.
func TestBuildIndexKeepsOnlyObjectsThatRouteTraffic(t *testing.T) {
	ing := func(name, class string) *Object {
		return &Object{Kind: "Ingress", Namespace: "shop", Name: name, IngressClass: class, Annotations: annotated,
			Routes: []policy.ServedRoute{{Hosts: []string{name + ".example.com"}, Paths: []policy.RoutedPath{{Value: "/"}}}}}
	}
	route := func(name string, parents ...string) *Object {
		return &Object{Kind: "HTTPRoute", Namespace: "shop", Name: name, Parents: parents, Annotations: annotated,
			Routes: []policy.ServedRoute{{Hosts: []string{name + ".example.com"}, Paths: []policy.RoutedPath{{Value: "/"}}}}}
	}
	objs := func() []*Object {
		return []*Object{
			ing("served", "nginx"), ing("other", "internal"), ing("ghost", "nope"), ing("classless", ""),
			route("public", "gateways/public"), route("mine", "tenant/mine"), route("orphan"),
			{Kind: "Service", Namespace: "shop", Name: "orders", Annotations: annotated},
			{Kind: "Service", Namespace: "tenant", Name: "orders", Annotations: annotated},
		}
	}
	cases := map[string]struct {
		settings config.Annotations
		cluster  Cluster
		want     []string
	}{
		"every existing class, any Gateway": {
			cluster: Cluster{IngressClasses: map[string]bool{"nginx": false, "internal": false}},
			want:    []string{"HTTPRoute shop/mine", "HTTPRoute shop/public", "Ingress shop/other", "Ingress shop/served", "Service shop/orders", "Service tenant/orders"},
		},
		"a single default class serves class-less Ingresses": {
			cluster: Cluster{IngressClasses: map[string]bool{"nginx": true, "internal": false}},
			want:    []string{"HTTPRoute shop/mine", "HTTPRoute shop/public", "Ingress shop/classless", "Ingress shop/other", "Ingress shop/served", "Service shop/orders", "Service tenant/orders"},
		},
		"two defaults serve none": {
			cluster: Cluster{IngressClasses: map[string]bool{"nginx": true, "internal": true}},
			want:    []string{"HTTPRoute shop/mine", "HTTPRoute shop/public", "Ingress shop/other", "Ingress shop/served", "Service shop/orders", "Service tenant/orders"},
		},
		"listed classes and Gateways": {
			settings: config.Annotations{IngressClasses: []string{"nginx"}, Gateways: []string{"gateways/public"}},
			cluster:  Cluster{IngressClasses: map[string]bool{"nginx": true, "internal": false}},
			want:     []string{"HTTPRoute shop/public", "Ingress shop/classless", "Ingress shop/served", "Service shop/orders", "Service tenant/orders"},
		},
		"a sidecar's workload namespace": {
			cluster: Cluster{IngressClasses: map[string]bool{"nginx": false}, WorkloadNamespace: "tenant"},
			want:    []string{"Service tenant/orders"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tc.settings.Enabled, tc.settings.AllowPublic, tc.settings.ClusterDomain = true, true, "cluster.local"
			built := BuildIndex(objs(), tc.settings, tc.cluster)
			var got []string
			for _, o := range built.Objects.Objects {
				got = append(got, o.Ref())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("indexed %v\nwant    %v", got, tc.want)
			}
			for _, ig := range built.Ignored {
				if ig.Reason == "" || slices.Contains(tc.want, ig.Object.Ref()) {
					t.Errorf("ignored %s: %q", ig.Object.Ref(), ig.Reason)
				}
			}
			if tc.cluster.WorkloadNamespace == "" && len(built.Ignored)+len(got) != len(objs()) {
				t.Errorf("%d indexed and %d ignored of %d", len(got), len(built.Ignored), len(objs()))
			}
		})
	}
}

// Paths an Ingress controller reads as regular expressions are never read as prefixes: the
// Ingress tightens its whole hosts, and so do the other Ingresses of its class on those hosts
// (ingress-nginx reads every path of a host as a regular expression once one Ingress asks).
func TestRegexIngresses(t *testing.T) {
	impl, prefix := networkingv1.PathTypeImplementationSpecific, networkingv1.PathTypePrefix
	ingress := func(name string, ann map[string]string, path string, pt networkingv1.PathType) *Object {
		ann["betterauthz.io/policy"] = "public"
		class := "nginx"
		return fromIngress(asIngress(t, &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Annotations: ann},
			Spec: networkingv1.IngressSpec{IngressClassName: &class, Rules: []networkingv1.IngressRule{{Host: "shop.example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: path, PathType: &pt}}}}}}},
		}))
	}
	objs := []*Object{
		ingress("use-regex", map[string]string{"nginx.ingress.kubernetes.io/use-regex": "true"}, "/admin(/|$)(.*)", impl),
		ingress("rewrite", map[string]string{"nginx.ingress.kubernetes.io/rewrite-target": "/$2"}, "/api", prefix),
		ingress("impl", map[string]string{}, "/docs/.*", impl),
		ingress("plain", map[string]string{}, "/catalog", prefix),
	}
	built := BuildIndex(objs, config.Annotations{Enabled: true, AllowPublic: true, ClusterDomain: "cluster.local"}, Cluster{IngressClasses: map[string]bool{"nginx": false}})
	for _, o := range built.Objects.Objects {
		if !o.TightenOnly {
			t.Errorf("%s is read literally", o.Ref())
		}
	}
	if len(built.Objects.Objects) != 4 {
		t.Fatalf("indexed %d", len(built.Objects.Objects))
	}
	for _, o := range objs {
		if !o.Regex || len(o.RegexReasons) == 0 {
			t.Errorf("%s: regex %v %v", o.Ref(), o.Regex, o.RegexReasons)
		}
	}
	// Without the host-wide ones, a plain path is read as written.
	alone := BuildIndex([]*Object{ingress("plain", map[string]string{}, "/catalog", prefix)}, config.Annotations{Enabled: true, ClusterDomain: "cluster.local"}, Cluster{IngressClasses: map[string]bool{"nginx": false}})
	if o := alone.Objects.Objects[0]; o.TightenOnly {
		t.Error("a plain Ingress is tighten-only")
	}
}

// An object that routes more host and path pairs than the bound is left out, reported.
func TestBuildIndexBoundsRoutesPerObject(t *testing.T) {
	var hosts []string
	for i := range MaxObjectRoutes + 1 {
		hosts = append(hosts, fmt.Sprintf("h%d.example.com", i))
	}
	huge := &Object{Kind: "HTTPRoute", Namespace: "a", Name: "huge", Parents: []string{"a/gw"}, Annotations: annotated,
		Routes: []policy.ServedRoute{{Hosts: hosts, Paths: []policy.RoutedPath{{Value: "/"}}}}}
	built := BuildIndex([]*Object{huge}, config.Annotations{Enabled: true, ClusterDomain: "cluster.local"}, Cluster{})
	if len(built.Objects.Objects) != 0 || len(built.Ignored) != 1 || !strings.Contains(built.Ignored[0].Reason, "more than the 4096") {
		t.Fatalf("indexed %d, ignored %+v", len(built.Objects.Objects), built.Ignored)
	}
}

// A Builder parses an object's annotations once: a rebuild with the same annotations reuses the
// rules, and forgets those of objects gone.
func TestBuilderReusesWhatItParsed(t *testing.T) {
	var b Builder
	settings := config.Annotations{Enabled: true, ClusterDomain: "cluster.local"}
	svc := &Object{Kind: "Service", Namespace: "a", Name: "s", Annotations: map[string]string{"betterauthz.io/rules": "- {paths: [/admin/**], policy: deny}"}}
	first := b.Build([]*Object{svc}, settings, Cluster{}).Objects.Objects[0].Rules
	again := b.Build([]*Object{svc}, settings, Cluster{}).Objects.Objects[0].Rules
	if first != again {
		t.Error("the same annotations were parsed again")
	}
	if ns := first.Rules[0].Namespace; ns != "a" {
		// A rule knows its object's namespace: whether it may have a resource's opaque tokens
		// introspected depends on it.
		t.Errorf("an annotation's rule is of namespace %q, want a", ns)
	}
	b.Build(nil, settings, Cluster{})
	if len(b.parsed) != 0 {
		t.Errorf("%d parsed entries kept for objects gone", len(b.parsed))
	}
}

// TestBuildIndexKeepsRulesOfUnknownIssuers: an annotation rule that names an issuer the config
// does not have stays in force (it refuses every token), rather than making the object invalid:
// an invalid object falls back to the config, and removing an issuer from the config must not
// open what an object keeps for it.
func TestBuildIndexKeepsRulesOfUnknownIssuers(t *testing.T) {
	rules := func(issuer string) map[string]string {
		return map[string]string{"betterauthz.io/rules": "- paths: [/admin/*]\n  issuer: " + issuer + "\n"}
	}
	objs := []*Object{
		{Kind: "Service", Namespace: "a", Name: "known", Annotations: rules("production")},
		{Kind: "Service", Namespace: "a", Name: "unknown", Annotations: rules("staging")},
	}
	built := BuildIndex(objs, config.Annotations{Enabled: true, AllowPublic: true, ClusterDomain: "cluster.local"}, Cluster{})
	if len(built.Invalid) != 0 || len(built.Objects.Objects) != 2 {
		t.Fatalf("objects %d, invalid %+v", len(built.Objects.Objects), built.Invalid)
	}
}

func TestParseConfigMapRef(t *testing.T) {
	for in, ok := range map[string]bool{"ns/name": true, "name": false, "/name": false, "ns/": false, "a/b/c": false} {
		if _, _, err := ParseConfigMapRef(in); (err == nil) != ok {
			t.Errorf("%q: %v", in, err)
		}
	}
}

// What the last build parsed is reused only under the same settings: whether a dry run is
// allowed depends on annotations.allowPublic.
func TestBuilderReparsesWhenTheSettingsChange(t *testing.T) {
	var b Builder
	svc := &Object{Kind: "Service", Namespace: "a", Name: "s", Annotations: map[string]string{"betterauthz.io/policy": "deny", "betterauthz.io/dry-run": "true"}}
	open := b.Build([]*Object{svc}, config.Annotations{Enabled: true, AllowPublic: true, ClusterDomain: "cluster.local"}, Cluster{})
	closed := b.Build([]*Object{svc}, config.Annotations{Enabled: true, AllowPublic: false, ClusterDomain: "cluster.local"}, Cluster{})
	if len(open.Invalid) != 0 || len(closed.Invalid) != 1 {
		t.Errorf("invalid with allowPublic: %d, without: %d", len(open.Invalid), len(closed.Invalid))
	}
}

// One namespace's objects share a budget of routes and of annotation bytes: past it, its newest
// objects are left out (reported), never another namespace's.
func TestBuildIndexBudgetsEachNamespace(t *testing.T) {
	var objs []*Object
	hosts := func(prefix string, n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%s%d.example.com", prefix, i))
		}
		return out
	}
	for i := range 5 {
		objs = append(objs, &Object{Kind: "HTTPRoute", Namespace: "greedy", Name: fmt.Sprintf("r%d", i), Parents: []string{"gw/gw"},
			Created: time.Date(2024, 1, 1+i, 0, 0, 0, 0, time.UTC), Annotations: annotated,
			Routes: []policy.ServedRoute{{Hosts: hosts(fmt.Sprintf("g%d-", i), 4000), Paths: []policy.RoutedPath{{Value: "/"}}}}})
	}
	objs = append(objs, &Object{Kind: "HTTPRoute", Namespace: "calm", Name: "r", Parents: []string{"gw/gw"}, Annotations: annotated,
		Routes: []policy.ServedRoute{{Hosts: []string{"calm.example.com"}, Paths: []policy.RoutedPath{{Value: "/"}}}}})
	built := BuildIndex(objs, config.Annotations{Enabled: true, ClusterDomain: "cluster.local"}, Cluster{})
	var indexed []string
	for _, o := range built.Objects.Objects {
		indexed = append(indexed, o.Ref())
	}
	if want := []string{"HTTPRoute calm/r", "HTTPRoute greedy/r0", "HTTPRoute greedy/r1", "HTTPRoute greedy/r2", "HTTPRoute greedy/r3"}; !slices.Equal(indexed, want) {
		t.Errorf("indexed %v, want %v", indexed, want)
	}
	if len(built.Ignored) != 1 || built.Ignored[0].Object.Name != "r4" {
		t.Errorf("ignored %+v", built.Ignored)
	}

	var svcs []*Object
	big := map[string]string{"betterauthz.io/public-paths": "/" + strings.Repeat("a", 30<<10)}
	for i := range 10 {
		svcs = append(svcs, &Object{Kind: "Service", Namespace: "wordy", Name: fmt.Sprintf("s%d", i), Annotations: big,
			Created: time.Date(2024, 1, 1+i, 0, 0, 0, 0, time.UTC)})
	}
	built = BuildIndex(svcs, config.Annotations{Enabled: true, ClusterDomain: "cluster.local"}, Cluster{})
	if len(built.Objects.Objects) != 8 || len(built.Invalid) != 2 || built.Invalid[0].Object.Name != "s8" {
		t.Errorf("%d with rules, invalid %d", len(built.Objects.Objects), len(built.Invalid))
	}
}

// An HTTPRoute edited since its Gateway accepted it decides nothing until accepted again, but
// keeps its namespace's claim to its hosts meanwhile.
func TestAnEditedRouteKeepsItsClaim(t *testing.T) {
	owner := &Object{Kind: "HTTPRoute", Namespace: "a", Name: "app", AcceptedBefore: true, Annotations: annotated,
		Created: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		Routes:  []policy.ServedRoute{{Hosts: []string{"app.example.com"}, Paths: []policy.RoutedPath{{Value: "/"}}}}}
	squat := &Object{Kind: "HTTPRoute", Namespace: "b", Name: "squat", Parents: []string{"b/gw"}, Annotations: map[string]string{"betterauthz.io/policy": "deny"},
		Created: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC),
		Routes:  []policy.ServedRoute{{Hosts: []string{"app.example.com"}, Paths: []policy.RoutedPath{{Value: "/"}}}}}
	built := BuildIndex([]*Object{owner, squat}, config.Annotations{Enabled: true, ClusterDomain: "cluster.local"}, Cluster{})
	rules, configToo := built.Objects.Lookup(nil, "app.example.com", policy.SplitPath("/x", nil), "GET", "")
	if len(rules) != 0 || !configToo {
		t.Errorf("%d rules, config %v: the squatter decided", len(rules), configToo)
	}
}
