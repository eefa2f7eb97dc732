package server_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/betterauthz/betterauthz/internal/kube"
	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/kubeapi"
)

// The real API server is started once, by the first test that needs it, and stopped by
// TestMain.
var (
	kubeOnce sync.Once
	kubeSrv  *kubeapi.Server
	kubeErr  error
)

func kubeEnv(t *testing.T) *kubeapi.Server {
	t.Helper()
	kubeOnce.Do(func() { kubeSrv, kubeErr = kubeapi.Start() })
	if kubeErr != nil {
		t.Fatalf("the Kubernetes API server could not be started: %v", kubeErr)
	}
	return kubeSrv
}

type kubeFixture struct {
	api        *kubeapi.Server
	cs         kubernetes.Interface
	dyn        dynamic.Interface
	ns         string
	kubeconfig string // admin
}

// newKube gives a test its own namespace on the shared API server and an admin kubeconfig.
func newKube(t *testing.T) *kubeFixture {
	t.Helper()
	api := kubeEnv(t)
	cs, err := kubernetes.NewForConfig(api.Admin)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(api.Admin)
	if err != nil {
		t.Fatal(err)
	}
	ns := fmt.Sprintf("t-%x", sha256.Sum256([]byte(t.Name())))[:14]
	createNamespace(t, cs, ns)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := api.Kubeconfig(api.Admin, kc); err != nil {
		t.Fatal(err)
	}
	return &kubeFixture{api: api, cs: cs, dyn: dyn, ns: ns, kubeconfig: kc}
}

func createNamespace(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
}

func (k *kubeFixture) configMap(t *testing.T, name string, data map[string]string) {
	t.Helper()
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: k.ns}, Data: data}
	_, err := k.cs.CoreV1().ConfigMaps(k.ns).Update(ctx, cm, metav1.UpdateOptions{})
	if err != nil && strings.Contains(err.Error(), "not found") {
		_, err = k.cs.CoreV1().ConfigMaps(k.ns).Create(ctx, cm, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (k *kubeFixture) service(t *testing.T, ns, name string, annotations map[string]string) {
	t.Helper()
	ctx := context.Background()
	svcs := k.cs.CoreV1().Services(ns)
	existing, err := svcs.Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		existing.Annotations = annotations
		if _, err := svcs.Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		return
	}
	_, err = svcs.Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// ingressClass creates a cluster-wide IngressClass (removed when the test ends); isDefault marks
// it the cluster's default. Tests name theirs after their namespace: the API server is shared.
func (k *kubeFixture) ingressClass(t *testing.T, name string, isDefault bool) {
	t.Helper()
	ctx := context.Background()
	ic := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.IngressClassSpec{Controller: "example.com/ingress-controller"}}
	if isDefault {
		ic.Annotations = map[string]string{"ingressclass.kubernetes.io/is-default-class": "true"}
	}
	if _, err := k.cs.NetworkingV1().IngressClasses().Create(ctx, ic, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = k.cs.NetworkingV1().IngressClasses().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// acceptRoute marks an HTTPRoute accepted by a Gateway, as a Gateway controller would: only
// routes a Gateway accepted serve requests, so only those count.
func (k *kubeFixture) acceptRoute(t *testing.T, ns, name string) {
	t.Helper()
	ctx := context.Background()
	ri := k.dyn.Resource(kube.HTTPRouteGVR).Namespace(ns)
	u, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u.Object["status"] = map[string]any{"parents": []any{map[string]any{
		"parentRef":      map[string]any{"name": "gw"},
		"controllerName": "example.com/gateway-controller",
		"conditions": []any{map[string]any{
			"type": "Accepted", "status": "True", "reason": "Accepted", "message": "",
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": u.GetGeneration(),
		}},
	}}}
	if _, err := ri.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// hostCheck asks with a host, method and path.
func (r *running) hostCheck(t *testing.T, method, host, path string, headers map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := r.client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Host: host, Path: path, Headers: headers,
		}},
	}})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return answer(resp)
}

func expectAnswer(t *testing.T, r *running, method, host, path string, headers map[string]string, want string) {
	t.Helper()
	eventually(t, 10*time.Second, func() string {
		if got := r.hostCheck(t, method, host, path, headers); got != want {
			return fmt.Sprintf("%s %s%s: %s, want %s", method, host, path, got, want)
		}
		return ""
	})
}

func TestConfigFromAConfigMap(t *testing.T) {
	k := newKube(t)
	r := run(t, "", func(o *server.Options) {
		o.ConfigPath = ""
		o.ConfigMap = k.ns + "/betterauthz"
		o.Kubeconfig = k.kubeconfig
	})
	// No ConfigMap yet: not ready, and checks answer 503.
	time.Sleep(500 * time.Millisecond)
	if code, body := r.get(t, "/readyz"); code != 503 || !strings.Contains(body, "no config yet") {
		t.Fatalf("/readyz without the ConfigMap: %d %q", code, body)
	}
	if got := r.hostCheck(t, "GET", "h", "/", nil); got != "denied 503" {
		t.Fatalf("check without config: %s", got)
	}
	if !strings.Contains(r.logs.String(), "ConfigMap not found; waiting for it to be created") {
		t.Error("the missing ConfigMap is not reported")
	}

	k.configMap(t, "betterauthz", map[string]string{"config.yaml": baseConfig(ba) + "defaultPolicy: public\n"})
	r.waitReady(t, 15*time.Second)
	expectAnswer(t, r, "GET", "h", "/", nil, "allowed")

	k.configMap(t, "betterauthz", map[string]string{"config.yaml": baseConfig(ba) + "defaultPolicy: deny\n"})
	expectAnswer(t, r, "GET", "h", "/", nil, "denied 403")

	// Invalid: refused, named, counted; the last good config stays.
	k.configMap(t, "betterauthz", map[string]string{"config.yaml": baseConfig(ba) + "defaultPolicy: maybe\n"})
	eventually(t, 5*time.Second, func() string {
		if !strings.Contains(r.logs.String(), `defaultPolicy: \"maybe\" is not a policy`) {
			return "refusal not logged with its key"
		}
		return ""
	})
	k.configMap(t, "betterauthz", map[string]string{"other.yaml": "x"})
	eventually(t, 5*time.Second, func() string {
		if !strings.Contains(r.logs.String(), `has no \"config.yaml\" key`) {
			return "missing key not logged"
		}
		return ""
	})
	if got := r.hostCheck(t, "GET", "h", "/", nil); got != "denied 403" {
		t.Errorf("after refused updates: %s, want the last good (deny)", got)
	}

	// Deleted: said loudly, the last good config stays.
	if err := k.cs.CoreV1().ConfigMaps(k.ns).Delete(context.Background(), "betterauthz", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() string {
		if !strings.Contains(r.logs.String(), "ConfigMap deleted: the last good config stays in force") {
			return "delete not logged"
		}
		return ""
	})
	if got := r.hostCheck(t, "GET", "h", "/", nil); got != "denied 403" {
		t.Errorf("after delete: %s", got)
	}
	if code, _ := r.get(t, "/readyz"); code != 200 {
		t.Errorf("/readyz after delete: %d, want still ready", code)
	}
	_, metrics := r.get(t, "/metrics")
	for _, want := range []string{
		`betterauthz_config_reloads_total{result="success",source="configmap"} 2`,
		`betterauthz_config_reloads_total{result="error",source="configmap"} 2`,
		`betterauthz_config_reloads_total{result="deleted",source="configmap"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(metrics, "config_reloads"))
		}
	}

	// Recreated: applies again.
	k.configMap(t, "betterauthz", map[string]string{"config.yaml": baseConfig(ba) + "defaultPolicy: public\n"})
	expectAnswer(t, r, "GET", "h", "/", nil, "allowed")
}

func TestConfigMapAlongsideAFile(t *testing.T) {
	k := newKube(t)
	r := run(t, baseConfig(ba)+"defaultPolicy: deny\n", func(o *server.Options) {
		o.ConfigMap = k.ns + "/betterauthz"
		o.Kubeconfig = k.kubeconfig
	})
	// The file serves until the ConfigMap exists, then the ConfigMap wins.
	r.waitReady(t, 15*time.Second)
	expectAnswer(t, r, "GET", "h", "/", nil, "denied 403")
	k.configMap(t, "betterauthz", map[string]string{"config.yaml": baseConfig(ba) + "defaultPolicy: public\n"})
	expectAnswer(t, r, "GET", "h", "/", nil, "allowed")
}

func TestAnInvalidConfigMapAtStartStopsTheServer(t *testing.T) {
	k := newKube(t)
	k.configMap(t, "betterauthz", map[string]string{"config.yaml": "betterAuthURL: " + ba.URL + "\nclockSkew: forever\n"})
	err := server.Run(context.Background(), server.Options{
		ConfigMap: k.ns + "/betterauthz", Kubeconfig: k.kubeconfig,
		GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Getenv: func(string) string { return "" },
	})
	if err == nil || !strings.Contains(err.Error(), `clockSkew: "forever" is not a duration`) || !strings.Contains(err.Error(), "ConfigMap "+k.ns+"/betterauthz") {
		t.Fatalf("Run: %v", err)
	}
}

const annotationConfig = `routes:
  - name: internal
    paths: ["/internal/**"]
    policy: deny
`

func TestAnnotationsOnServicesIngressesAndHTTPRoutes(t *testing.T) {
	k := newKube(t)
	other := k.ns + "-b"
	createNamespace(t, k.cs, other)
	admin, _ := ba.Mint(betterauth.MintOptions{User: map[string]any{"role": "admin,user"}})
	user, _ := ba.Mint(betterauth.MintOptions{})
	// Each test watches its own namespaces: the API server is shared.
	// Annotations may open routes here (allowPublic is off by default).
	r := run(t, baseConfig(ba)+annotationConfig+"annotations:\n  allowPublic: true\n  namespaces: ["+k.ns+", "+other+"]\n", func(o *server.Options) {
		o.Kubeconfig = k.kubeconfig
		o.CRDPoll = 500 * time.Millisecond
	})
	k.ingressClass(t, k.ns, false)
	r.waitReady(t, 20*time.Second)
	svcHost := "orders." + k.ns + ".svc.cluster.local"

	t.Run("Service", func(t *testing.T) {
		expectAnswer(t, r, "GET", svcHost, "/x", nil, "denied 401") // no annotation: the config decides
		k.service(t, k.ns, "orders", map[string]string{"betterauthz.io/policy": "public"})
		for _, host := range []string{"orders", "orders." + k.ns, "orders." + k.ns + ".svc", svcHost, svcHost + ":8080", "ORDERS." + strings.ToUpper(k.ns)} {
			expectAnswer(t, r, "GET", host, "/x", nil, "allowed")
		}
		expectAnswer(t, r, "GET", "orders."+other, "/x", nil, "denied 401") // another namespace's "orders"

		k.service(t, k.ns, "orders", map[string]string{
			"betterauthz.io/public-paths": "/health, /docs/**",
			"betterauthz.io/rules":        "- name: order-admin\n  paths: [/admin/**]\n  claims: {role: admin}\n",
		})
		expectAnswer(t, r, "GET", svcHost, "/admin/x", bearer(user.Token), "denied 403")
		expectAnswer(t, r, "GET", svcHost, "/admin/x", bearer(admin.Token), "allowed")
		expectAnswer(t, r, "GET", svcHost, "/docs/a", nil, "allowed")
		expectAnswer(t, r, "GET", svcHost, "/other", nil, "denied 401") // the object is silent: config

		k.service(t, k.ns, "orders", nil) // annotations removed
		expectAnswer(t, r, "GET", svcHost, "/docs/a", nil, "denied 401")
	})

	t.Run("Ingress", func(t *testing.T) {
		prefix, exact := networkingv1.PathTypePrefix, networkingv1.PathTypeExact
		backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "shop", Port: networkingv1.ServiceBackendPort{Number: 80}}}
		ing := &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: k.ns, Annotations: map[string]string{"betterauthz.io/policy": "public"}},
			Spec: networkingv1.IngressSpec{IngressClassName: &k.ns, Rules: []networkingv1.IngressRule{{
				Host: "shop.example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
					{Path: "/catalog", PathType: &prefix, Backend: backend},
					{Path: "/cart", PathType: &exact, Backend: backend},
				}}},
			}}},
		}
		if _, err := k.cs.NetworkingV1().Ingresses(k.ns).Create(context.Background(), ing, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		expectAnswer(t, r, "GET", "shop.example.com", "/catalog/shoes", nil, "allowed")
		expectAnswer(t, r, "GET", "shop.example.com", "/cart", nil, "allowed")
		expectAnswer(t, r, "GET", "shop.example.com", "/cart/x", nil, "denied 401")    // Exact
		expectAnswer(t, r, "GET", "shop.example.com", "/catalogue", nil, "denied 401") // element-wise prefix
		expectAnswer(t, r, "GET", "other.example.com", "/catalog", nil, "denied 401")

		// A more specific Ingress on the same host wins for its paths.
		admin2 := ing.DeepCopy()
		admin2.Name, admin2.ResourceVersion = "shop-admin", ""
		admin2.Annotations = map[string]string{"betterauthz.io/rules": "- claims: {role: admin}"}
		admin2.Spec.Rules[0].HTTP.Paths = []networkingv1.HTTPIngressPath{{Path: "/catalog/admin", PathType: &prefix, Backend: backend}}
		if _, err := k.cs.NetworkingV1().Ingresses(k.ns).Create(context.Background(), admin2, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		expectAnswer(t, r, "GET", "shop.example.com", "/catalog/admin/x", bearer(user.Token), "denied 403")
		expectAnswer(t, r, "GET", "shop.example.com", "/catalog/admin/x", bearer(admin.Token), "allowed")
		expectAnswer(t, r, "GET", "shop.example.com", "/catalog/shoes", nil, "allowed")
	})

	t.Run("HTTPRoute, CRD installed while running", func(t *testing.T) {
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
		route := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
			"metadata": map[string]any{"name": "api", "namespace": k.ns, "annotations": map[string]any{"betterauthz.io/policy": "deny"}},
			"spec": map[string]any{
				"parentRefs": []any{map[string]any{"name": "gw"}},
				"hostnames":  []any{"api.example.com"},
				"rules": []any{map[string]any{
					"matches":     []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/v1/private"}}},
					"backendRefs": []any{map[string]any{"name": "api", "port": int64(80)}},
				}},
			},
		}}
		if _, err := k.dyn.Resource(kube.HTTPRouteGVR).Namespace(k.ns).Create(context.Background(), route, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Not accepted by a Gateway yet: it serves nothing, so its annotations do not apply.
		time.Sleep(800 * time.Millisecond)
		if got := r.hostCheck(t, "GET", "api.example.com", "/v1/private/x", bearer(admin.Token)); got != "allowed" {
			t.Errorf("a route no Gateway accepted changed the answer: %s", got)
		}
		k.acceptRoute(t, k.ns, "api")
		expectAnswer(t, r, "GET", "api.example.com", "/v1/private/x", bearer(admin.Token), "denied 403")

		// A route without hostnames takes whatever hosts its Gateway gives it: it must not make
		// the rest of the mesh public.
		open := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
			"metadata": map[string]any{"name": "everything", "namespace": other, "annotations": map[string]any{"betterauthz.io/policy": "public"}},
			"spec":     map[string]any{"parentRefs": []any{map[string]any{"name": "gw"}}, "rules": []any{map[string]any{}}},
		}}
		if _, err := k.dyn.Resource(kube.HTTPRouteGVR).Namespace(other).Create(context.Background(), open, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		k.acceptRoute(t, other, "everything")
		eventually(t, 5*time.Second, func() string {
			if !strings.Contains(r.logs.String(), "no spec.hostnames") {
				return "the host-less route is not reported"
			}
			return ""
		})
		for _, host := range []string{"payments.prod.svc.cluster.local", "api.example.com"} {
			if got := r.hostCheck(t, "GET", host, "/internal/x", nil); got != "denied 403" {
				t.Errorf("%s/internal/x after a host-less public route: %s", host, got)
			}
		}
		expectAnswer(t, r, "GET", "api.example.com", "/v1/public", bearer(user.Token), "allowed")
		if !strings.Contains(r.logs.String(), "watching HTTPRoutes") {
			t.Error("the CRD's arrival is not logged")
		}
	})

	t.Run("context_extensions still win", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := r.client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			ContextExtensions: map[string]string{"betterauthz.io/policy": "deny"},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "GET", Host: "shop.example.com", Path: "/catalog/x",
			}},
		}})
		if err != nil || answer(resp) != "denied 403" {
			t.Fatalf("%v %v", resp, err)
		}
	})

	t.Run("route table", func(t *testing.T) {
		code, body := r.get(t, "/debug/routes")
		if code != 200 {
			t.Fatalf("/debug/routes %d", code)
		}
		for _, want := range []string{
			"annotation  Ingress " + k.ns + "/shop",
			"annotation  HTTPRoute " + k.ns + "/api",
			"config      routes",
			"internal",
			"default     defaultPolicy",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/debug/routes lacks %q:\n%s", want, body)
			}
		}
	})
}

func TestMalformedAnnotationIsIgnoredForThatObjectOnly(t *testing.T) {
	k := newKube(t)
	r := run(t, baseConfig(ba)+annotationConfig+"annotations:\n  allowPublic: true\n  namespaces: ["+k.ns+"]\n", func(o *server.Options) { o.Kubeconfig = k.kubeconfig })
	r.waitReady(t, 20*time.Second)
	k.service(t, k.ns, "good", map[string]string{"betterauthz.io/policy": "public"})
	k.service(t, k.ns, "bad", map[string]string{"betterauthz.io/policy": "public", "betterauthz.io/rules": "- {paths: [nope], policy: public}"})
	k.service(t, k.ns, "typo", map[string]string{"betterauthz.io/publicpaths": "/x"})

	expectAnswer(t, r, "GET", "good."+k.ns, "/x", nil, "allowed")
	expectAnswer(t, r, "GET", "bad."+k.ns, "/x", nil, "denied 401") // falls back to the config
	expectAnswer(t, r, "GET", "typo."+k.ns, "/x", nil, "denied 401")

	// "bad" and "typo" answer as the config would with or without them: wait for the index to
	// have seen all three objects before reading the logs and metrics.
	eventually(t, 10*time.Second, func() string {
		_, metrics := r.get(t, "/metrics")
		for _, want := range []string{`betterauthz_annotation_errors_total{kind="Service"} 2`, `betterauthz_annotation_objects{state="invalid"} 2`, `betterauthz_annotation_objects{state="valid"} 1`} {
			if !strings.Contains(metrics, want) {
				return fmt.Sprintf("/metrics lacks %s:\n%s", want, grepLines(metrics, "annotation"))
			}
		}
		return ""
	})
	logs := r.logs.String()
	for _, want := range []string{
		`"object":"Service ` + k.ns + `/bad"`, `"namespace":"` + k.ns + `"`, `betterauthz.io/rules[0].paths[0]: path pattern \"nope\" must start with /`,
		`"object":"Service ` + k.ns + `/typo"`, `betterauthz.io/publicpaths: unknown key`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	eventually(t, 10*time.Second, func() string {
		evs, err := k.cs.CoreV1().Events(k.ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=bad"})
		if err != nil {
			return err.Error()
		}
		for _, e := range evs.Items {
			if e.Reason == "InvalidAnnotation" && e.Type == corev1.EventTypeWarning && e.Source.Component == "betterauthz" &&
				strings.Contains(e.Message, "betterauthz.io/rules[0].paths[0]") {
				return ""
			}
		}
		return fmt.Sprintf("no InvalidAnnotation event on Service bad (%d events)", len(evs.Items))
	})
	if _, body := r.get(t, "/debug/routes"); !strings.Contains(body, "Service "+k.ns+"/bad: betterauthz.io/rules[0].paths[0]") {
		t.Errorf("/debug/routes does not list the ignored object:\n%s", body)
	}

	// Fixed: applies.
	k.service(t, k.ns, "bad", map[string]string{"betterauthz.io/policy": "public"})
	expectAnswer(t, r, "GET", "bad."+k.ns, "/x", nil, "allowed")
}

// TestAnnotationRulesNameTheConfigsIssuers: an annotation rule may keep a path for one issuer's
// tokens; one that names an issuer the config lacks refuses every token there (403, the
// decision log says which issuer it takes), and the rest of the object applies.
func TestAnnotationRulesNameTheConfigsIssuers(t *testing.T) {
	k := newKube(t)
	r := run(t, fmt.Sprintf("issuers:\n  - name: main\n    betterAuthURL: %s\n", ba.URL)+annotationConfig+"annotations:\n  allowPublic: true\n  namespaces: ["+k.ns+"]\n",
		func(o *server.Options) { o.Kubeconfig = k.kubeconfig })
	r.waitReady(t, 20*time.Second)
	k.service(t, k.ns, "known", map[string]string{"betterauthz.io/policy": "public", "betterauthz.io/rules": "- {paths: [/admin/*], issuer: main}"})
	k.service(t, k.ns, "unknown", map[string]string{"betterauthz.io/policy": "public", "betterauthz.io/rules": "- {paths: [/admin/*], issuer: staging}"})
	m, _ := ba.Mint(betterauth.MintOptions{})
	expectAnswer(t, r, "GET", "known."+k.ns, "/x", nil, "allowed")
	expectAnswer(t, r, "GET", "known."+k.ns, "/admin/a", bearer(m.Token), "allowed")
	expectAnswer(t, r, "GET", "unknown."+k.ns, "/x", nil, "allowed")
	expectAnswer(t, r, "GET", "unknown."+k.ns, "/admin/a", bearer(m.Token), "denied 403")
	if logs := r.logs.String(); !strings.Contains(logs, `this route takes tokens of issuer \"staging\" only`) {
		t.Error("the decision log does not say which issuer the rule takes")
	}
}

func TestNamespaceRestrictionAndAllowPublicFalse(t *testing.T) {
	k := newKube(t)
	outside := k.ns + "-x"
	createNamespace(t, k.cs, outside)
	user, _ := ba.Mint(betterauth.MintOptions{})
	cfg := baseConfig(ba) + annotationConfig + "annotations:\n  namespaces: [" + k.ns + "]\n"
	var path string
	r := run(t, cfg+"  allowPublic: true\n", func(o *server.Options) { o.Kubeconfig = k.kubeconfig; path = o.ConfigPath })
	r.waitReady(t, 20*time.Second)
	k.service(t, k.ns, "api", map[string]string{"betterauthz.io/policy": "public"})
	k.service(t, outside, "api", map[string]string{"betterauthz.io/policy": "public"})
	expectAnswer(t, r, "GET", "api."+k.ns, "/x", nil, "allowed")
	expectAnswer(t, r, "GET", "api."+outside, "/x", nil, "denied 401") // not a watched namespace

	// allowPublic: false (the default) — annotations may tighten, never make public.
	writeAtomically(t, path, cfg)
	expectAnswer(t, r, "GET", "api."+k.ns, "/x", nil, "denied 401")
	expectAnswer(t, r, "GET", "api."+k.ns, "/x", bearer(user.Token), "allowed")
	expectAnswer(t, r, "GET", "api."+k.ns, "/internal/x", bearer(user.Token), "denied 403") // config deny holds
	k.service(t, k.ns, "api", map[string]string{"betterauthz.io/rules": "- claims: {role: admin}"})
	expectAnswer(t, r, "GET", "api."+k.ns, "/x", bearer(user.Token), "denied 403") // tightening works

	// Turned off: objects are ignored altogether.
	writeAtomically(t, path, baseConfig(ba)+annotationConfig+"annotations:\n  enabled: false\n")
	expectAnswer(t, r, "GET", "api."+k.ns, "/x", bearer(user.Token), "allowed")
}

// Of two namespaces whose Services are both called "web", the older one owns the bare name: the
// newer one's policy decides nothing for it, neither to close nor to open (this used to apply
// both policies; hosts are owned since issue 18). Each still owns its namespaced names.
func TestAHostNamedFromTwoNamespacesIsTheOldestOnes(t *testing.T) {
	k := newKube(t)
	second := k.ns + "-z"
	createNamespace(t, k.cs, second)
	r := run(t, baseConfig(ba)+"annotations:\n  allowPublic: true\n  namespaces: ["+k.ns+", "+second+"]\n", func(o *server.Options) { o.Kubeconfig = k.kubeconfig })
	r.waitReady(t, 20*time.Second)
	k.service(t, k.ns, "web", map[string]string{"betterauthz.io/policy": "public"})
	time.Sleep(1100 * time.Millisecond) // creationTimestamp counts seconds
	k.service(t, second, "web", map[string]string{"betterauthz.io/policy": "deny"})
	expectAnswer(t, r, "GET", "web."+second, "/", nil, "denied 403")
	expectAnswer(t, r, "GET", "web", "/", nil, "allowed")
	expectAnswer(t, r, "GET", "web."+k.ns, "/", nil, "allowed")
	refs := []string{"Service " + k.ns + "/web", "Service " + second + "/web"}
	slices.Sort(refs)
	want := "host web is named by objects of several namespaces (" + strings.Join(refs, ", ") + "); namespace " + k.ns + " owns it"
	eventually(t, 5*time.Second, func() string {
		if !strings.Contains(r.logs.String(), want) {
			return "conflict not logged"
		}
		return ""
	})
	if _, body := r.get(t, "/debug/routes"); !strings.Contains(body, want) {
		t.Errorf("/debug/routes lacks the conflict:\n%s", body)
	}
}

// TestTheRBACManifestSuffices runs betterauthz as the ServiceAccount of manifests/rbac.yaml,
// not as an admin: ConfigMap, all three kinds of annotated objects, and events.
func TestTheRBACManifestSuffices(t *testing.T) {
	k := newKube(t)
	ctx := context.Background()
	createNamespace(t, k.cs, "betterauthz")
	root, _ := betterauth.ModuleRoot()
	manifest, err := os.ReadFile(filepath.Join(root, "manifests", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := kubeapi.Apply(ctx, k.api.Admin, manifest); err != nil {
		t.Fatal(err)
	}
	crds, err := kubeapi.GatewayAPICRDs()
	if err != nil {
		t.Fatal(err)
	}
	if err := kubeapi.Apply(ctx, k.api.Admin, crds); err != nil {
		t.Fatal(err)
	}
	if err := kubeapi.WaitForResource(k.api.Admin, kube.HTTPRouteGVR, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "betterauthz", Namespace: "betterauthz"},
		Data: map[string]string{"config.yaml": baseConfig(ba) + "annotations:\n  allowPublic: true\n"}}
	if _, err := k.cs.CoreV1().ConfigMaps("betterauthz").Create(ctx, cm, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	saCfg, err := k.api.ServiceAccountConfig(ctx, "betterauthz", "betterauthz")
	if err != nil {
		t.Fatal(err)
	}
	// The service account may read its own ConfigMap only.
	saClient, _ := kubernetes.NewForConfig(saCfg)
	if _, err := saClient.CoreV1().ConfigMaps("betterauthz").Get(ctx, "other", metav1.GetOptions{}); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("the service account can read other ConfigMaps: %v", err)
	}
	if _, err := saClient.CoreV1().Secrets("betterauthz").List(ctx, metav1.ListOptions{}); err == nil {
		t.Error("the service account can list Secrets")
	}
	kc := filepath.Join(t.TempDir(), "sa-kubeconfig")
	if err := k.api.Kubeconfig(saCfg, kc); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", func(o *server.Options) {
		o.ConfigPath, o.ConfigMap, o.Kubeconfig = "", "betterauthz/betterauthz", kc
		o.CRDPoll = 500 * time.Millisecond
	})
	r.waitReady(t, 20*time.Second)

	k.ingressClass(t, k.ns, false)
	k.service(t, k.ns, "svc", map[string]string{"betterauthz.io/policy": "public"})
	k.service(t, k.ns, "broken", map[string]string{"betterauthz.io/policy": "sometimes"})
	exact := networkingv1.PathTypeExact
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "ing", Namespace: k.ns, Annotations: map[string]string{"betterauthz.io/policy": "public"}},
		Spec: networkingv1.IngressSpec{IngressClassName: &k.ns, Rules: []networkingv1.IngressRule{{Host: "ing.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &exact, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "svc", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}}
	if _, err := k.cs.NetworkingV1().Ingresses(k.ns).Create(ctx, ing, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	route := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "rt", "namespace": k.ns, "annotations": map[string]any{"betterauthz.io/policy": "public"}},
		"spec":     map[string]any{"hostnames": []any{"rt.example.com"}},
	}}
	if _, err := k.dyn.Resource(kube.HTTPRouteGVR).Namespace(k.ns).Create(ctx, route, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	k.acceptRoute(t, k.ns, "rt")
	expectAnswer(t, r, "GET", "svc."+k.ns, "/", nil, "allowed")
	expectAnswer(t, r, "GET", "ing.example.com", "/", nil, "allowed")
	expectAnswer(t, r, "GET", "rt.example.com", "/any", nil, "allowed")
	eventually(t, 10*time.Second, func() string {
		evs, _ := k.cs.CoreV1().Events(k.ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=broken"})
		if evs != nil && len(evs.Items) > 0 {
			return ""
		}
		return "the service account could not record the InvalidAnnotation event"
	})
	if strings.Contains(r.logs.String(), "forbidden") {
		t.Errorf("RBAC refused something:\n%s", grepLines(r.logs.String(), "forbidden"))
	}
}
