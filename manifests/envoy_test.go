// Package manifests_test validates the Envoy and Istio examples shipped in manifests/: no real
// Envoy runs here, so Envoy's protos are the schema (protojson + the generated ValidateAll,
// including every typed_config inside).
package manifests_test

import (
	"os"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"

	"github.com/betterauthz/betterauthz/internal/testenv/envoyvalidate"
)

func TestEnvoyBootstrap(t *testing.T) {
	var b bootstrapv3.Bootstrap
	envoyvalidate.File(t, "envoy/envoy.yaml", &b)
	if n := envoyvalidate.CountAny(&b, "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute"); n != 3 {
		t.Errorf("%d per-route ext_authz configs, want 3", n)
	}
}

func TestExtAuthzPerRoute(t *testing.T) {
	var a anypb.Any
	envoyvalidate.File(t, "envoy/ext-authz-per-route.yaml", &a)
}

func TestIstioEnvoyFilterPatch(t *testing.T) {
	data, err := os.ReadFile("istio/envoyfilter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ef struct {
		Spec struct {
			ConfigPatches []struct {
				Patch struct {
					Value any `json:"value"`
				} `json:"patch"`
			} `json:"configPatches"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &ef); err != nil {
		t.Fatal(err)
	}
	if len(ef.Spec.ConfigPatches) == 0 {
		t.Fatal("no config patches")
	}
	for _, p := range ef.Spec.ConfigPatches {
		js, err := yaml.Marshal(p.Patch.Value)
		if err != nil {
			t.Fatal(err)
		}
		var f hcmv3.HttpFilter
		envoyvalidate.YAML(t, "istio/envoyfilter.yaml patch.value", js, &f)
	}
}
