package manifests_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"

	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/testenv/kubeapi"
)

// TestKubernetesManifestsDryRun submits every Kubernetes manifest in manifests/ to a real API
// server (server-side dry run, CEL rules included) with Istio's, the Gateway API's and Envoy
// Gateway's CRDs installed.
func TestKubernetesManifestsDryRun(t *testing.T) {
	api, err := kubeapi.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer api.Stop()
	var crds [][]byte
	for _, load := range []func() ([]byte, error){kubeapi.IstioCRDs, kubeapi.GatewayAPICRDs, kubeapi.EnvoyGatewayCRDs} {
		c, err := load()
		if err != nil {
			t.Fatal(err)
		}
		crds = append(crds, c)
	}
	ctx := context.Background()
	if err := api.InstallCRDs(ctx, crds,
		schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1alpha3", Resource: "envoyfilters"},
		schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"},
		schema.GroupVersionResource{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Resource: "securitypolicies"}); err != nil {
		t.Fatal(err)
	}
	if err := api.CreateNamespaces(ctx, "betterauthz", "shop", "app", "istio-system", "gateway"); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"rbac.yaml", "install.yaml", "istio/envoyfilter.yaml", "istio/drop-underscore-headers.yaml", "sidecar/configmap.yaml", "sidecar/app.yaml", "sidecar/istio.yaml", "sidecar/istio-unix.yaml", "istio/destinationrule-tls.yaml", "istio/destinationrule-mtls.yaml",
		"istio/ambient-waypoint.yaml", "envoy-gateway/securitypolicy-grpc.yaml", "envoy-gateway/securitypolicy-route.yaml", "envoy-gateway/securitypolicy-http.yaml"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := kubeapi.ApplyDryRun(context.Background(), api.Admin, data, "app"); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("sidecar/deployment-patch.yaml merged into app.yaml", func(t *testing.T) {
		if err := kubeapi.ApplyDryRun(context.Background(), api.Admin, sidecarDeployment(t), "app"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("sidecar/unix-socket-patch.yaml on top", func(t *testing.T) {
		d := unixSidecarDeployment(t)
		d.APIVersion, d.Kind = "apps/v1", "Deployment"
		js, _ := json.Marshal(d)
		if err := kubeapi.ApplyDryRun(context.Background(), api.Admin, js, "app"); err != nil {
			t.Fatal(err)
		}
	})
}

// sidecarDeployment applies the kustomize patch the way kustomize does (strategic merge).
func sidecarDeployment(t *testing.T) []byte {
	t.Helper()
	read := func(f string) []byte {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		js, err := yaml.YAMLToJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	merged, err := strategicpatch.StrategicMergePatch(read("sidecar/app.yaml"), read("sidecar/deployment-patch.yaml"), appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := json.Unmarshal(merged, &d); err != nil {
		t.Fatal(err)
	}
	if n := len(d.Spec.Template.Spec.Containers); n != 2 {
		t.Fatalf("%d containers after the patch, want the app and betterauthz", n)
	}
	return merged
}

// TestSidecarConfig: the sidecar's config is one betterauthz accepts, with annotations off (the
// app's service account has no RBAC for them).
func TestSidecarConfig(t *testing.T) {
	b, err := os.ReadFile("sidecar/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	s, err := config.Parse([]byte(cm.Data["config.yaml"]), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if s.Annotations.Enabled {
		t.Error("annotations enabled in the sidecar config")
	}
}
