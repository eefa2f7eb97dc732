package manifests_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"

	"github.com/betterauthz/betterauthz/internal/testenv/envoyvalidate"
)

// TestEnvoyTLSCluster: the TLS/mTLS variant of envoy.yaml's betterauthz cluster is a valid
// Cluster speaking HTTP/2 over TLS with ALPN h2, verifying betterauthz's name and presenting a
// client certificate.
func TestEnvoyTLSCluster(t *testing.T) {
	var c clusterv3.Cluster
	envoyvalidate.File(t, "envoy/cluster-tls.yaml", &c)
	var tls tlsv3.UpstreamTlsContext
	if err := c.GetTransportSocket().GetTypedConfig().UnmarshalTo(&tls); err != nil {
		t.Fatal(err)
	}
	ctx := tls.GetCommonTlsContext()
	if tls.GetSni() == "" || ctx.GetValidationContext().GetTrustedCa().GetFilename() == "" || len(ctx.GetTlsCertificates()) != 1 {
		t.Errorf("TLS context %v", &tls)
	}
	if len(ctx.GetAlpnProtocols()) != 1 || ctx.GetAlpnProtocols()[0] != "h2" {
		t.Errorf("ALPN %v: gRPC servers refuse TLS without h2", ctx.GetAlpnProtocols())
	}
}

// TestUnixSocketSidecar: the Envoy pipe cluster, the Istio ServiceEntry and the sidecar patch
// name one socket, which the patch puts in a volume of the pod.
func TestUnixSocketSidecar(t *testing.T) {
	var c clusterv3.Cluster
	envoyvalidate.File(t, "envoy/cluster-unix.yaml", &c)
	pipe := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetPipe().GetPath()

	d := unixSidecarDeployment(t)
	var addr, mount string
	for _, ct := range d.Spec.Template.Spec.Containers {
		if ct.Name != "betterauthz" {
			continue
		}
		for _, a := range ct.Args {
			if v, ok := strings.CutPrefix(a, "--grpc-addr="); ok {
				addr = v
			}
		}
		for _, m := range ct.VolumeMounts {
			if m.Name == "betterauthz-socket" {
				mount = m.MountPath
			}
		}
	}
	if addr != "unix://"+pipe || !strings.HasPrefix(pipe, mount+"/") {
		t.Errorf("betterauthz listens on %s (socket volume at %q), Envoy's pipe is %s", addr, mount, pipe)
	}
	if d.Spec.Template.Spec.SecurityContext.FSGroup == nil {
		t.Error("no fsGroup: the proxy's user could not open the 0660 socket")
	}
	if !strings.Contains(d.Spec.Template.Annotations["sidecar.istio.io/userVolumeMount"], `"mountPath":"`+mount+`"`) {
		t.Errorf("istio-proxy does not mount the socket volume: %v", d.Spec.Template.Annotations)
	}
	b, _ := os.ReadFile("sidecar/istio-unix.yaml")
	if !strings.Contains(string(b), "address: "+addr+"\n") {
		t.Errorf("sidecar/istio-unix.yaml does not point at %s", addr)
	}
}

// unixSidecarDeployment applies deployment-patch.yaml and then unix-socket-patch.yaml to
// app.yaml, as kustomize would.
func unixSidecarDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	merged := sidecarDeployment(t)
	b, _ := os.ReadFile("sidecar/unix-socket-patch.yaml")
	patch, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := strategicpatch.StrategicMergePatch(merged, patch, appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// TestIstioDestinationRules: the TLS and mTLS DestinationRules are valid Istio
// DestinationRules for the betterauthz Service's gRPC port.
func TestIstioDestinationRules(t *testing.T) {
	for file, mode := range map[string]networkingv1alpha3.ClientTLSSettings_TLSmode{
		"istio/destinationrule-tls.yaml":  networkingv1alpha3.ClientTLSSettings_SIMPLE,
		"istio/destinationrule-mtls.yaml": networkingv1alpha3.ClientTLSSettings_MUTUAL,
	} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Spec any `json:"spec"`
			}
			if err := yaml.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			js, _ := yaml.Marshal(doc.Spec)
			var dr networkingv1alpha3.DestinationRule
			if err := envoyvalidate.Check(js, &dr); err != nil {
				t.Fatal(err)
			}
			pl := dr.GetTrafficPolicy().GetPortLevelSettings()[0]
			if dr.GetHost() != "betterauthz.betterauthz.svc.cluster.local" || pl.GetPort().GetNumber() != 9000 || pl.GetTls().GetMode() != mode || pl.GetTls().GetCredentialName() == "" {
				t.Errorf("DestinationRule %v", &dr)
			}
		})
	}
}
