package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/betterauthz/betterauthz/internal/kube"
	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/kubeapi"
)

// Tenancy: in a cluster shared by teams who do not trust each other, a Kubernetes object decides
// only for the traffic it routes — on a real API server, as the attacker of issue 18 tried it: a
// tenant who may edit only the objects of their own namespace.

// ingressPath is one path of an Ingress rule.
type ingressPath struct {
	path string
	typ  networkingv1.PathType
}

// ingress creates (or replaces) an Ingress of class (nil: none) for host.
func (k *kubeFixture) ingress(t *testing.T, ns, name string, class *string, ann map[string]string, host string, paths ...ingressPath) {
	t.Helper()
	ctx := context.Background()
	backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "app", Port: networkingv1.ServiceBackendPort{Number: 80}}}
	var ps []networkingv1.HTTPIngressPath
	for _, p := range paths {
		ps = append(ps, networkingv1.HTTPIngressPath{Path: p.path, PathType: &p.typ, Backend: backend})
	}
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: ann},
		Spec: networkingv1.IngressSpec{IngressClassName: class, Rules: []networkingv1.IngressRule{{Host: host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: ps}}}}},
	}
	ings := k.cs.NetworkingV1().Ingresses(ns)
	if old, err := ings.Get(ctx, name, metav1.GetOptions{}); err == nil {
		ing.ResourceVersion = old.ResourceVersion
		if _, err := ings.Update(ctx, ing, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := ings.Create(ctx, ing, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func prefixPath(p string) ingressPath { return ingressPath{p, networkingv1.PathTypePrefix} }

// route creates an HTTPRoute for hostnames with PathPrefix matches.
func (k *kubeFixture) route(t *testing.T, ns, name string, ann map[string]any, hostnames []any, prefixes ...string) {
	t.Helper()
	var matches []any
	for _, p := range prefixes {
		matches = append(matches, map[string]any{"path": map[string]any{"type": "PathPrefix", "value": p}})
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": name, "namespace": ns, "annotations": ann},
		"spec": map[string]any{
			"parentRefs": []any{map[string]any{"name": "gw"}},
			"hostnames":  hostnames,
			"rules":      []any{map[string]any{"matches": matches, "backendRefs": []any{map[string]any{"name": "app", "port": int64(80)}}}},
		},
	}}
	if _, err := k.dyn.Resource(kube.HTTPRouteGVR).Namespace(ns).Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// acceptRouteBy writes the route's status as the controller of Gateway gwNS/gwName would: accepted,
// at the generation given (0: the route's current one).
func (k *kubeFixture) acceptRouteBy(t *testing.T, ns, name, gwNS, gwName string, generation int64) {
	t.Helper()
	ctx := context.Background()
	ri := k.dyn.Resource(kube.HTTPRouteGVR).Namespace(ns)
	u, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if generation == 0 {
		generation = u.GetGeneration()
	}
	u.Object["status"] = map[string]any{"parents": []any{map[string]any{
		"parentRef":      map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": gwNS, "name": gwName},
		"controllerName": "example.com/gateway-controller",
		"conditions": []any{map[string]any{
			"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": generation,
		}},
	}}}
	if _, err := ri.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func installGatewayAPI(t *testing.T, k *kubeFixture) {
	t.Helper()
	crds, err := kubeapi.GatewayAPICRDs()
	if err != nil {
		t.Fatal(err)
	}
	if err := kubeapi.Apply(context.Background(), k.api.Admin, crds); err != nil {
		t.Fatal(err)
	}
	if err := kubeapi.WaitForResource(k.api.Admin, kube.HTTPRouteGVR, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

// waitLogged waits for the log to contain want.
func waitLogged(t *testing.T, r *running, want string) {
	t.Helper()
	eventually(t, 10*time.Second, func() string {
		if !strings.Contains(r.logs.String(), want) {
			return fmt.Sprintf("logs lack %q", want)
		}
		return ""
	})
}

// An Ingress decides only when its class is served: it names an IngressClass that exists (one
// of annotations.ingressClasses, when that is set). An Ingress of a class that does not exist
// claimed shop's /admin with policy: public and opened it at the shared gateway.
func TestTenancyAnIngressDecidesOnlyWhenItsClassIsServed(t *testing.T) {
	k := newKube(t)
	cfg := baseConfig(ba) + "annotations:\n  allowPublic: true\n  namespaces: [" + k.ns + "]\n"
	var path string
	r := run(t, cfg, func(o *server.Options) { o.Kubeconfig = k.kubeconfig; path = o.ConfigPath })
	r.waitReady(t, 20*time.Second)
	served, other, ghost := k.ns, k.ns+"-other", k.ns+"-ghost"
	k.ingressClass(t, served, false)
	k.ingressClass(t, other, false)
	public := map[string]string{"betterauthz.io/policy": "public"}
	host := "shop." + k.ns + ".test"

	k.ingress(t, k.ns, "attacker", &ghost, public, host, prefixPath("/admin"))
	k.ingress(t, k.ns, "served", &served, public, "served."+k.ns+".test", prefixPath("/"))
	k.ingress(t, k.ns, "other", &other, public, "other."+k.ns+".test", prefixPath("/"))
	k.ingress(t, k.ns, "legacy", nil, map[string]string{"betterauthz.io/policy": "public", "kubernetes.io/ingress.class": served}, "legacy."+k.ns+".test", prefixPath("/"))
	expectAnswer(t, r, "GET", "served."+k.ns+".test", "/x", nil, "allowed")
	expectAnswer(t, r, "GET", "other."+k.ns+".test", "/x", nil, "allowed")
	expectAnswer(t, r, "GET", "legacy."+k.ns+".test", "/x", nil, "allowed")
	expectAnswer(t, r, "GET", host, "/admin/users", nil, "denied 401")
	waitLogged(t, r, `its Ingress class \"`+ghost+`\" names no IngressClass object`)

	// Only the classes of the proxies that ask this betterauthz.
	writeAtomically(t, path, cfg+"  ingressClasses: ["+served+"]\n")
	expectAnswer(t, r, "GET", "other."+k.ns+".test", "/x", nil, "denied 401")
	expectAnswer(t, r, "GET", "served."+k.ns+".test", "/x", nil, "allowed")
	waitLogged(t, r, `its Ingress class \"`+other+`\" is not one of annotations.ingressClasses`)

	// A class-less Ingress belongs to the cluster's default class, when there is exactly one.
	k.ingress(t, k.ns, "classless", nil, public, "classless."+k.ns+".test", prefixPath("/"))
	time.Sleep(500 * time.Millisecond)
	expectAnswer(t, r, "GET", "classless."+k.ns+".test", "/x", nil, "denied 401")
	writeAtomically(t, path, cfg)
	k.ingressClass(t, k.ns+"-default", true)
	expectAnswer(t, r, "GET", "classless."+k.ns+".test", "/x", nil, "allowed")
}

// An HTTPRoute decides only through a Gateway that accepted it as it is now — one of
// annotations.gateways when that is set — not because some Gateway (the attacker's own) did.
func TestTenancyAnHTTPRouteDecidesOnlyThroughGatewaysThatAcceptedIt(t *testing.T) {
	k := newKube(t)
	installGatewayAPI(t, k)
	tenant := k.ns + "-t"
	createNamespace(t, k.cs, tenant)
	cfg := baseConfig(ba) + "annotations:\n  allowPublic: true\n  namespaces: [" + k.ns + ", " + tenant + "]\n  gateways: [infra/public]\n"
	r := run(t, cfg, func(o *server.Options) { o.Kubeconfig = k.kubeconfig; o.CRDPoll = 200 * time.Millisecond })
	r.waitReady(t, 20*time.Second)
	public := map[string]any{"betterauthz.io/policy": "public"}

	// The tenant's route, accepted by the tenant's own Gateway.
	k.route(t, tenant, "mine", public, []any{"mine." + k.ns + ".test"}, "/")
	k.acceptRouteBy(t, tenant, "mine", tenant, "mine", 0)
	// The platform's Gateway accepts this one.
	k.route(t, k.ns, "legit", public, []any{"legit." + k.ns + ".test"}, "/")
	k.acceptRouteBy(t, k.ns, "legit", "infra", "public", 0)
	expectAnswer(t, r, "GET", "legit."+k.ns+".test", "/x", nil, "allowed")
	expectAnswer(t, r, "GET", "mine."+k.ns+".test", "/x", nil, "denied 401")
	waitLogged(t, r, "it is accepted by "+tenant+"/mine, none of annotations.gateways")

	// A spec change the Gateway has not accepted yet (a stale observedGeneration) decides
	// nothing until the Gateway accepts it.
	ri := k.dyn.Resource(kube.HTTPRouteGVR).Namespace(k.ns)
	u, err := ri.Get(context.Background(), "legit", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gen := u.GetGeneration()
	if err := unstructured.SetNestedField(u.Object, []any{"legit." + k.ns + ".test", "more." + k.ns + ".test"}, "spec", "hostnames"); err != nil {
		t.Fatal(err)
	}
	if u, err = ri.Update(context.Background(), u, metav1.UpdateOptions{}); err != nil || u.GetGeneration() == gen {
		t.Fatalf("update: %v (generation %d)", err, u.GetGeneration())
	}
	expectAnswer(t, r, "GET", "legit."+k.ns+".test", "/x", nil, "denied 401")
	waitLogged(t, r, "no Gateway has accepted it at its current generation")
	k.acceptRouteBy(t, k.ns, "legit", "infra", "public", 0)
	expectAnswer(t, r, "GET", "more."+k.ns+".test", "/x", nil, "allowed")
}

// Hosts are owned: of the namespaces whose objects name a host, the oldest claim's decides. A
// newer namespace's objects can neither close the owner's host (a deny made a public site 403)
// nor open its paths, and a wildcard never decides for a host another namespace names exactly.
func TestTenancyHostsBelongToTheOldestClaim(t *testing.T) {
	k := newKube(t)
	owner, late := k.ns, k.ns+"-late"
	createNamespace(t, k.cs, late)
	r := run(t, baseConfig(ba)+"annotations:\n  allowPublic: true\n  namespaces: ["+owner+", "+late+"]\n", func(o *server.Options) { o.Kubeconfig = k.kubeconfig })
	r.waitReady(t, 20*time.Second)
	class := k.ns
	k.ingressClass(t, class, false)
	www, api := "www."+k.ns+".test", "api."+k.ns+".test"
	admin, _ := ba.Mint(betterauth.MintOptions{User: map[string]any{"role": "admin"}})

	k.ingress(t, owner, "site", &class, map[string]string{"betterauthz.io/policy": "public"}, www, prefixPath("/"))
	k.ingress(t, owner, "admin", &class, map[string]string{"betterauthz.io/rules": "- claims: {role: admin}"}, www, prefixPath("/admin"))
	k.ingress(t, owner, "api", &class, nil, api, prefixPath("/v1"))
	expectAnswer(t, r, "GET", www, "/", nil, "allowed")
	time.Sleep(1100 * time.Millisecond) // creationTimestamp counts seconds

	k.ingress(t, late, "closer", &class, map[string]string{"betterauthz.io/policy": "deny"}, www, prefixPath("/"))
	k.ingress(t, late, "opener", &class, map[string]string{"betterauthz.io/policy": "public"}, www, prefixPath("/admin/open"))
	k.ingress(t, late, "wildcard", &class, map[string]string{"betterauthz.io/policy": "public"}, "*."+k.ns+".test", prefixPath("/"))
	waitLogged(t, r, "host "+www+" is named by objects of several namespaces")
	expectAnswer(t, r, "GET", "free."+k.ns+".test", "/x", nil, "allowed") // the wildcard's own ground
	expectAnswer(t, r, "GET", www, "/", nil, "allowed")                   // not closed
	expectAnswer(t, r, "GET", www, "/admin/open/x", nil, "denied 401")    // not opened: the config decides
	expectAnswer(t, r, "GET", www, "/admin/open/x", bearer(admin.Token), "allowed")
	expectAnswer(t, r, "GET", api, "/other", nil, "denied 401") // the wildcard does not reach api
	if _, body := r.get(t, "/debug/routes"); !strings.Contains(body, "namespace "+owner+" owns it") {
		t.Errorf("/debug/routes lacks the ownership:\n%s", body)
	}
}

// A sidecar guards one workload: with --workload-namespace, objects of other namespaces — of
// every kind — never decide, whatever Host a client sends. A CheckRequest naming the
// destination's namespace (Istio mTLS) is treated the same way for that check.
func TestTenancyObjectsOfOtherNamespacesNeverDecideForAWorkload(t *testing.T) {
	k := newKube(t)
	payments, web := k.ns, k.ns+"-web"
	createNamespace(t, k.cs, web)
	class := k.ns
	k.ingressClass(t, class, false)
	www := "www." + k.ns + ".test"
	k.ingress(t, web, "site", &class, map[string]string{"betterauthz.io/policy": "public"}, www, prefixPath("/"))
	k.service(t, payments, "pay", map[string]string{"betterauthz.io/public-paths": "/healthz"})

	sidecar := run(t, baseConfig(ba)+"annotations:\n  allowPublic: true\n", func(o *server.Options) {
		o.Kubeconfig = k.kubeconfig
		o.WorkloadNamespace = payments
	})
	sidecar.waitReady(t, 20*time.Second)
	expectAnswer(t, sidecar, "GET", "pay."+payments, "/healthz", nil, "allowed")
	expectAnswer(t, sidecar, "GET", www, "/x", nil, "denied 401")
	waitLogged(t, sidecar, `"namespaces":"`+payments+`"`)

	gateway := run(t, baseConfig(ba)+"annotations:\n  allowPublic: true\n  namespaces: ["+payments+", "+web+"]\n", func(o *server.Options) { o.Kubeconfig = k.kubeconfig })
	gateway.waitReady(t, 20*time.Second)
	expectAnswer(t, gateway, "GET", www, "/x", nil, "allowed")
	check := func(principal string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := gateway.client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Destination: &authv3.AttributeContext_Peer{Principal: principal},
			Request:     &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Host: www, Path: "/x"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return answer(resp)
	}
	if got := check("spiffe://cluster.local/ns/" + payments + "/sa/pay"); got != "denied 401" {
		t.Errorf("web's Ingress decided a check for the payments workload: %s", got)
	}
	if got := check("spiffe://cluster.local/ns/" + web + "/sa/site"); got != "allowed" {
		t.Errorf("for web's own workload: %s", got)
	}

	if err := server.Run(context.Background(), server.Options{WorkloadNamespace: "Not_A_Namespace", GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "--workload-namespace") {
		t.Errorf("an invalid workload namespace: %v", err)
	}
}

// Paths an Ingress controller reads as regular expressions (use-regex, rewrite-target) are never
// read as prefixes: such an Ingress tightens its whole host and never opens, and is reported.
// A deny on /admin(/|$)(.*) used to fall back to the default silently.
func TestTenancyRegexPathsOnlyTighten(t *testing.T) {
	k := newKube(t)
	r := run(t, baseConfig(ba)+"annotations:\n  allowPublic: true\n  namespaces: ["+k.ns+"]\n", func(o *server.Options) { o.Kubeconfig = k.kubeconfig })
	r.waitReady(t, 20*time.Second)
	class := k.ns
	k.ingressClass(t, class, false)
	impl := networkingv1.PathTypeImplementationSpecific
	host, open := "regex."+k.ns+".test", "open."+k.ns+".test"
	k.ingress(t, k.ns, "admin", &class, map[string]string{"betterauthz.io/policy": "deny", "nginx.ingress.kubernetes.io/use-regex": "true"},
		host, ingressPath{"/admin(/|$)(.*)", impl})
	expectAnswer(t, r, "GET", host, "/admin/users", nil, "denied 403")
	expectAnswer(t, r, "GET", host, "/elsewhere", nil, "denied 403") // the whole host
	expectAnswer(t, r, "GET", "other."+k.ns+".test", "/admin/users", nil, "denied 401")

	// A public one opens nothing: the config decides (a token is needed).
	k.ingress(t, k.ns, "opener", &class, map[string]string{"betterauthz.io/policy": "public", "nginx.ingress.kubernetes.io/rewrite-target": "/$2"},
		open, ingressPath{"/api(/|$)(.*)", impl})
	waitLogged(t, r, `"object":"Ingress `+k.ns+`/opener"`) // the index has seen it
	expectAnswer(t, r, "GET", open, "/api/x", nil, "denied 401")

	waitLogged(t, r, "annotation applied to whole hosts, tighten only")
	eventually(t, 10*time.Second, func() string {
		evs, err := k.cs.CoreV1().Events(k.ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=admin"})
		if err != nil {
			return err.Error()
		}
		for _, e := range evs.Items {
			if e.Reason == "RegexPaths" && e.Type == corev1.EventTypeWarning && strings.Contains(e.Message, "nginx.ingress.kubernetes.io/use-regex") {
				return ""
			}
		}
		return fmt.Sprintf("no RegexPaths event on Ingress admin (%d events)", len(evs.Items))
	})
}

// Annotations are bounded: YAML anchors and aliases are refused (an 8 KB rules document of them
// took seconds and 400 MiB to index), as is more than the Limits table allows; the object falls
// back to the config, and the others carry on.
func TestTenancyAnnotationsAreBounded(t *testing.T) {
	k := newKube(t)
	r := run(t, baseConfig(ba)+"annotations:\n  allowPublic: true\n  namespaces: ["+k.ns+"]\n", func(o *server.Options) { o.Kubeconfig = k.kubeconfig })
	r.waitReady(t, 20*time.Second)
	laughs := "- name: x\n  claims:\n    a: &a [x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'j'; i++ {
		p := string(i - 1)
		laughs += fmt.Sprintf("    %c: &%c [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", i, i, p, p, p, p, p, p, p, p, p)
	}
	k.service(t, k.ns, "laughs", map[string]string{"betterauthz.io/policy": "public", "betterauthz.io/rules": laughs})
	k.service(t, k.ns, "huge", map[string]string{"betterauthz.io/public-paths": "/" + strings.Repeat("a", 40<<10)})
	k.service(t, k.ns, "fine", map[string]string{"betterauthz.io/policy": "public"})
	expectAnswer(t, r, "GET", "fine."+k.ns, "/x", nil, "allowed")
	expectAnswer(t, r, "GET", "laughs."+k.ns, "/x", nil, "denied 401")
	waitLogged(t, r, "YAML anchors and aliases (&name, *name) are not accepted here")
	waitLogged(t, r, "more than 32768")
	for _, line := range strings.Split(r.logs.String(), "\n") {
		if len(line) > 4096 {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
	}
}

// context_extensions are bounded as annotations are, and a value is never logged in full: a
// flood of distinct 1 MiB values grew the cache past the chart's memory limit and wrote each
// value to the log on every decision.
func TestTenancyContextExtensionsAreBounded(t *testing.T) {
	r := run(t, baseConfig(ba), nil)
	r.waitReady(t, 10*time.Second)
	user, _ := ba.Mint(betterauth.MintOptions{})
	check := func(ext map[string]string, id string) string {
		req := checkReq("/orders/1", bearer(user.Token))
		req.Attributes.Request.Http.Id = id
		req.Attributes.ContextExtensions = ext
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := r.client.Check(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return reasonOf(resp)
	}
	long := strings.Repeat("n", 200_000)
	cases := map[string]struct {
		ext  map[string]string
		want string
	}{
		"aliases":        {map[string]string{"betterauthz.io/rules": "- &r {paths: [/orders/**], policy: deny}\n- *r"}, "invalid_route_policy"},
		"a huge value":   {map[string]string{"betterauthz.io/public-paths": "/" + strings.Repeat("a", 1<<20)}, "invalid_route_policy"},
		"a huge key":     {map[string]string{"betterauthz.io/" + long: "x"}, "invalid_route_policy"},
		"a long name":    {map[string]string{"betterauthz.io/rules": "- {name: " + strings.Repeat("n", 300) + ", policy: deny}"}, "invalid_route_policy"},
		"a named rule":   {map[string]string{"betterauthz.io/rules": "- {name: customer-4711, claims: {role: admin}}"}, "insufficient_claims"},
		"a fine setting": {map[string]string{"betterauthz.io/policy": "authenticated"}, "allowed"},
	}
	for name, tc := range cases {
		if got := check(tc.ext, name); got != tc.want {
			t.Errorf("%s: %s, want %s", name, got, tc.want)
		}
	}
	for _, line := range strings.Split(r.logs.String(), "\n") {
		if len(line) > 4096 {
			t.Errorf("a log line of %d bytes: %.300s…", len(line), line)
		}
	}
	_, metrics := r.get(t, "/metrics")
	if strings.Contains(metrics, "customer-4711") || !strings.Contains(metrics, `reason="insufficient_claims",route="extensions"`) {
		t.Errorf("route label of an Envoy route's rule:\n%s", grepLines(metrics, "insufficient_claims"))
	}
	if !strings.Contains(r.logs.String(), `"route":"customer-4711"`) {
		t.Error("the decision log does not name the rule")
	}
}

// A steady stream of changes to objects (any team's) never postpones the index: a policy change
// applies within a second while another object changes every 50 ms.
func TestTenancyAStreamOfChangesNeverPostponesPolicy(t *testing.T) {
	k := newKube(t)
	r := run(t, baseConfig(ba)+"annotations:\n  namespaces: ["+k.ns+"]\n", func(o *server.Options) { o.Kubeconfig = k.kubeconfig })
	r.waitReady(t, 20*time.Second)
	user, _ := ba.Mint(betterauth.MintOptions{})
	k.service(t, k.ns, "noisy", nil)
	k.service(t, k.ns, "api", nil)
	expectAnswer(t, r, "GET", "api."+k.ns, "/x", bearer(user.Token), "allowed")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			svc, err := k.cs.CoreV1().Services(k.ns).Get(ctx, "noisy", metav1.GetOptions{})
			if err == nil {
				svc.Annotations = map[string]string{"example.com/tick": fmt.Sprint(i)}
				_, _ = k.cs.CoreV1().Services(k.ns).Update(ctx, svc, metav1.UpdateOptions{})
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	time.Sleep(500 * time.Millisecond)
	k.service(t, k.ns, "api", map[string]string{"betterauthz.io/policy": "deny"})
	deadline := time.Now().Add(3 * time.Second)
	for r.hostCheck(t, "GET", "api."+k.ns, "/x", bearer(user.Token)) != "denied 403" {
		if time.Now().After(deadline) {
			t.Fatal("the deny did not apply within 3s of a stream of other changes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
}

// An HTTPRoute decides only for the hostnames its Gateway's listeners take from it: a tenant's
// route that names another tenant's host, accepted through the tenant's own listener of a shared
// Gateway, decides nothing for that host.
func TestTenancyAnHTTPRouteDecidesOnlyForItsListenersHostnames(t *testing.T) {
	k := newKube(t)
	installGatewayAPI(t, k)
	tenant := k.ns + "-evil"
	createNamespace(t, k.cs, tenant)
	domain := k.ns + ".test"
	gw := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": "shared", "namespace": k.ns},
		"spec": map[string]any{"gatewayClassName": "example", "listeners": []any{
			map[string]any{"name": "a", "hostname": "*.a." + domain, "port": int64(80), "protocol": "HTTP",
				"allowedRoutes": map[string]any{"namespaces": map[string]any{"from": "Same"}}},
			map[string]any{"name": "evil", "hostname": "*.evil." + domain, "port": int64(8080), "protocol": "HTTP",
				"allowedRoutes": map[string]any{"namespaces": map[string]any{"from": "All"}}},
		}},
	}}
	if _, err := k.dyn.Resource(kube.GatewayGVR).Namespace(k.ns).Create(context.Background(), gw, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := run(t, baseConfig(ba)+"annotations:\n  namespaces: ["+k.ns+", "+tenant+"]\n", func(o *server.Options) { o.Kubeconfig = k.kubeconfig; o.CRDPoll = 200 * time.Millisecond })
	r.waitReady(t, 20*time.Second)
	user, _ := ba.Mint(betterauth.MintOptions{})
	deny := map[string]any{"betterauthz.io/policy": "deny"}
	k.route(t, tenant, "squat", deny, []any{"x.evil." + domain, "app.a." + domain}, "/")
	k.acceptRouteBy(t, tenant, "squat", k.ns, "shared", 0)
	expectAnswer(t, r, "GET", "x.evil."+domain, "/x", bearer(user.Token), "denied 403")
	expectAnswer(t, r, "GET", "app.a."+domain, "/x", bearer(user.Token), "allowed")

	// The team's own route through its listener decides its host.
	k.route(t, k.ns, "app", deny, []any{"app.a." + domain}, "/admin")
	k.acceptRouteBy(t, k.ns, "app", k.ns, "shared", 0)
	expectAnswer(t, r, "GET", "app.a."+domain, "/admin/x", bearer(user.Token), "denied 403")
	expectAnswer(t, r, "GET", "app.a."+domain, "/x", bearer(user.Token), "allowed")
}
