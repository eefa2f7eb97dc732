package kubeapi

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// ModuleDir downloads a Go module (path@version) through the module proxy and returns its
// folder, for manifests that ship inside modules (CRDs).
func ModuleDir(module string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", module, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", err
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", module, info.Error)
	}
	return info.Dir, nil
}

// Modules whose CRDs the tests install, pinned.
const (
	GatewayAPIModule         = "sigs.k8s.io/gateway-api@v1.6.3"
	IstioAPIModule           = "istio.io/api@v1.32.0"
	PrometheusOperatorModule = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
	// The Traefik the proxy tests run (scripts/build-tools.sh pins the same version).
	TraefikModule = "github.com/traefik/traefik/v3@v3.7.13"
	// Envoy Gateway, whose SecurityPolicy the docs wire betterauthz with (scripts/build-tools.sh
	// builds its egctl at the same version).
	EnvoyGatewayModule = "github.com/envoyproxy/gateway@v1.9.1"
)

// GatewayAPICRDs returns the standard-channel Gateway API CRDs (HTTPRoute among them).
func GatewayAPICRDs() ([]byte, error) {
	return moduleFiles(GatewayAPIModule, "config/crd/standard/*.yaml")
}

// IstioCRDs returns Istio's CRDs (AuthorizationPolicy, ServiceEntry, EnvoyFilter, ...).
func IstioCRDs() ([]byte, error) {
	return moduleFiles(IstioAPIModule, "kubernetes/customresourcedefinitions.gen.yaml")
}

// EnvoyGatewayCRDs returns Envoy Gateway's own CRDs (SecurityPolicy, ClientTrafficPolicy, ...),
// without the Gateway API's, which GatewayAPICRDs gives.
func EnvoyGatewayCRDs() ([]byte, error) {
	return moduleFiles(EnvoyGatewayModule, "charts/gateway-helm/charts/crds/crds/generated/*.yaml")
}

// PrometheusOperatorCRDs returns the ServiceMonitor and PrometheusRule CRDs.
func PrometheusOperatorCRDs() ([]byte, error) {
	var all []byte
	for _, crd := range []string{"servicemonitors", "prometheusrules"} {
		b, err := moduleFiles(PrometheusOperatorModule, "example/prometheus-operator-crd/monitoring.coreos.com_"+crd+".yaml")
		if err != nil {
			return nil, err
		}
		all = append(append(all, b...), "\n---\n"...)
	}
	return all, nil
}

// TraefikMiddlewareCRD returns Traefik's Middleware CRD (traefik.io/v1alpha1).
func TraefikMiddlewareCRD() ([]byte, error) {
	return moduleFiles(TraefikModule, "docs/content/reference/dynamic-configuration/traefik.io_middlewares.yaml")
}

// moduleFiles concatenates the files of a module matching a glob into one YAML stream.
func moduleFiles(module, glob string) ([]byte, error) {
	dir, err := ModuleDir(module)
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(glob)))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no files %s in %s", glob, module)
	}
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		all = append(all, []byte("\n---\n")...)
		all = append(all, b...)
	}
	return all, nil
}

// WaitForResource waits until the API server serves a resource (a CRD just created becomes
// established).
func WaitForResource(cfg *rest.Config, gvr schema.GroupVersionResource, within time.Duration) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(within)
	for {
		list, err := dc.ServerResourcesForGroupVersion(gvr.GroupVersion().String())
		if err == nil {
			for _, r := range list.APIResources {
				if r.Name == gvr.Resource {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not served within %s", gvr, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
