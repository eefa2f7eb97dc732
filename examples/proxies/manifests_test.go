package proxies_test

import (
	"context"
	"os"
	"reflect"
	"slices"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/betterauthz/betterauthz/internal/testenv/envoyvalidate"
	"github.com/betterauthz/betterauthz/internal/testenv/kubeapi"
)

// TestKubernetesManifestsDryRun submits the Kubernetes examples to a real API server
// (server-side dry run), with Traefik's Middleware CRD installed from the Traefik module the
// proxy tests run.
func TestKubernetesManifestsDryRun(t *testing.T) {
	api, err := kubeapi.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer api.Stop()
	crd, err := kubeapi.TraefikMiddlewareCRD()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := api.InstallCRDs(ctx, [][]byte{crd}, schema.GroupVersionResource{Group: "traefik.io", Version: "v1alpha1", Resource: "middlewares"}); err != nil {
		t.Fatal(err)
	}
	if err := api.CreateNamespaces(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"ingress-nginx.yaml", "traefik-middleware.yaml"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := kubeapi.ApplyDryRun(context.Background(), api.Admin, data, "shop"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestTraefikMiddlewareMatchesTheFileProvider: the Kubernetes Middleware is the tested
// file-provider middleware, but for betterauthz's address.
func TestTraefikMiddlewareMatchesTheFileProvider(t *testing.T) {
	var crd struct {
		Spec struct{ ForwardAuth map[string]any } `json:"spec"`
	}
	var file struct {
		HTTP struct {
			Middlewares map[string]struct{ ForwardAuth map[string]any } `json:"middlewares"`
		} `json:"http"`
	}
	readYAML(t, "traefik-middleware.yaml", &crd)
	readYAML(t, "traefik-dynamic.yml", &file)
	a, b := crd.Spec.ForwardAuth, file.HTTP.Middlewares["betterauthz"].ForwardAuth
	if a["address"] != "http://betterauthz.betterauthz.svc.cluster.local:8081/check" || b["address"] != "http://BETTERAUTHZ_CHECK_ADDR/check" {
		t.Errorf("addresses %v and %v", a["address"], b["address"])
	}
	delete(a, "address")
	delete(b, "address")
	if len(a) == 0 || !reflect.DeepEqual(a, b) {
		t.Errorf("the Middleware's forwardAuth\n%v\ndiffers from traefik-dynamic.yml's\n%v", a, b)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestEnvoyHTTPServiceConfig validates the Envoy example against Envoy's protos (no Envoy runs
// here) and checks the settings docs/proxies/compared.md relies on.
func TestEnvoyHTTPServiceConfig(t *testing.T) {
	var b bootstrapv3.Bootstrap
	envoyvalidate.File(t, "envoy-http-service.yaml", &b)
	var hcm hcmv3.HttpConnectionManager
	if err := b.GetStaticResources().GetListeners()[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	if a := hcm.GetCommonHttpProtocolOptions().GetHeadersWithUnderscoresAction(); a != corev3.HttpProtocolOptions_DROP_HEADER {
		t.Errorf("headers_with_underscores_action %s, want DROP_HEADER", a)
	}
	var ea extauthzv3.ExtAuthz
	if err := hcm.GetHttpFilters()[0].GetTypedConfig().UnmarshalTo(&ea); err != nil {
		t.Fatal(err)
	}
	hs := ea.GetHttpService()
	if hs.GetPathPrefix() != "/envoy" || ea.GetFailureModeAllow() || ea.GetStatusOnError().GetCode() != 503 {
		t.Errorf("path_prefix %q, failure_mode_allow %v, status_on_error %v", hs.GetPathPrefix(), ea.GetFailureModeAllow(), ea.GetStatusOnError())
	}
	var upstream, client, request []string
	for _, p := range hs.GetAuthorizationResponse().GetAllowedUpstreamHeaders().GetPatterns() {
		upstream = append(upstream, p.GetExact())
	}
	for _, p := range hs.GetAuthorizationResponse().GetAllowedClientHeaders().GetPatterns() {
		client = append(client, p.GetExact())
	}
	for _, p := range ea.GetAllowedHeaders().GetPatterns() {
		request = append(request, p.GetExact())
	}
	if !reflect.DeepEqual(upstream, identityHeaders) {
		t.Errorf("allowed_upstream_headers %v, want %v", upstream, identityHeaders)
	}
	for _, want := range []string{"www-authenticate", "retry-after", "content-type"} {
		if !slices.Contains(client, want) {
			t.Errorf("allowed_client_headers %v lack %s", client, want)
		}
	}
	for _, want := range []string{"authorization", "cookie"} {
		if !slices.Contains(request, want) {
			t.Errorf("allowed_headers %v lack %s", request, want)
		}
	}
	if c := hs.GetServerUri().GetCluster(); c != b.GetStaticResources().GetClusters()[0].GetName() {
		t.Errorf("server_uri names cluster %q, which is not defined first", c)
	}
}

// identityHeaders are betterauthz's default identityHeaders, which every example copies.
var identityHeaders = []string{"x-user-id", "x-user-email", "x-user-name"}
