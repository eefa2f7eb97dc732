// Package manifests_test validates the Envoy and Istio examples shipped in manifests/: no real
// Envoy runs here, so Envoy's protos are the schema (protojson + the generated ValidateAll,
// including every typed_config inside).
package manifests_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
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
	var hcms int
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				var hcm hcmv3.HttpConnectionManager
				if f.GetTypedConfig().UnmarshalTo(&hcm) != nil {
					continue
				}
				hcms++
				// A client's x_user_id is x-user-id to CGI and WSGI apps.
				if a := hcm.GetCommonHttpProtocolOptions().GetHeadersWithUnderscoresAction(); a != corev3.HttpProtocolOptions_DROP_HEADER {
					t.Errorf("listener %s: headers_with_underscores_action %s, want DROP_HEADER", l.GetName(), a)
				}
				for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
					for _, r := range vh.GetRoutes() {
						// prefix: /docs matches /docs-internal too; path_separated_prefix does not.
						if p, ok := r.GetMatch().GetPathSpecifier().(*routev3.RouteMatch_Prefix); ok && p.Prefix != "/" {
							t.Errorf("virtual host %s: route match prefix %q: use path_separated_prefix", vh.GetName(), p.Prefix)
						}
					}
				}
			}
		}
	}
	if hcms == 0 {
		t.Fatal("no HTTP connection manager found")
	}
}

// TestNoPlainPrefixPathMatches: no shipped YAML (Envoy, Istio, chart, examples) matches routes
// by a plain prefix other than "/" — prefix: /docs would make /docs-internal/… public too.
func TestNoPlainPrefixPathMatches(t *testing.T) {
	key := regexp.MustCompile(`(^|[\s{,"'])prefix["']?\s*:\s*["']?([^\s,}"']*)`)
	checked := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", ".cache", "node_modules", "bin":
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml", ".tpl", ".md", ".txt":
		default:
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for i, line := range strings.Split(string(data), "\n") {
			for _, m := range key.FindAllStringSubmatch(line, -1) {
				if m[2] != "/" {
					t.Errorf("%s:%d: prefix: %s matches every path that starts so (%s-internal too): use path_separated_prefix", path, i+1, m[2], m[2])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("only %d files checked", checked)
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
				ApplyTo string `json:"applyTo"`
				Patch   struct {
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
	filters := 0
	for i, p := range ef.Spec.ConfigPatches {
		js, err := yaml.Marshal(p.Patch.Value)
		if err != nil {
			t.Fatal(err)
		}
		if p.ApplyTo == "HTTP_FILTER" {
			var f hcmv3.HttpFilter
			envoyvalidate.YAML(t, fmt.Sprintf("istio/envoyfilter.yaml configPatches[%d].patch.value", i), js, &f)
			filters++
		}
	}
	if filters != 1 {
		t.Errorf("%d HTTP_FILTER patches, want the ext_authz filter", filters)
	}
	checkDropsUnderscoreHeaders(t, "istio/envoyfilter.yaml", "SIDECAR_INBOUND")
}

// The EnvoyFilter for the extension-provider setup: underscore names dropped in the sidecars'
// inbound listeners and in the gateways.
func TestIstioDropUnderscoreHeaders(t *testing.T) {
	checkDropsUnderscoreHeaders(t, "istio/drop-underscore-headers.yaml", "SIDECAR_INBOUND", "GATEWAY")
}

// checkDropsUnderscoreHeaders: the EnvoyFilter in file merges headers_with_underscores_action:
// DROP_HEADER into the HTTP connection manager in each of contexts, and patches nothing else.
// A MERGE value is a partial HttpConnectionManager: decoded strictly (unknown fields are
// errors), not validated whole.
func checkDropsUnderscoreHeaders(t *testing.T, file string, contexts ...string) {
	t.Helper()
	var ef envoyFilter
	readYAML(t, file, &ef)
	dropped := map[string]bool{}
	for i, p := range ef.Spec.ConfigPatches {
		if p.ApplyTo != "NETWORK_FILTER" {
			continue
		}
		at := fmt.Sprintf("%s configPatches[%d]", file, i)
		if p.Match.Listener.FilterChain.Filter.Name != "envoy.filters.network.http_connection_manager" || p.Patch.Operation != "MERGE" {
			t.Errorf("%s: want a MERGE into envoy.filters.network.http_connection_manager", at)
			continue
		}
		js, err := json.Marshal(p.Patch.Value.TypedConfig)
		if err != nil {
			t.Fatal(err)
		}
		var a anypb.Any
		if err := protojson.Unmarshal(js, &a); err != nil {
			t.Fatalf("%s: %v", at, err)
		}
		var hcm hcmv3.HttpConnectionManager
		if err := a.UnmarshalTo(&hcm); err != nil {
			t.Fatalf("%s: not an HttpConnectionManager: %v", at, err)
		}
		if a := hcm.GetCommonHttpProtocolOptions().GetHeadersWithUnderscoresAction(); a != corev3.HttpProtocolOptions_DROP_HEADER {
			t.Errorf("%s: headers_with_underscores_action %s, want DROP_HEADER", at, a)
		}
		// Nothing but that option: a MERGE of other fields would change the mesh's listeners.
		hcm.CommonHttpProtocolOptions = nil
		if !proto.Equal(&hcm, &hcmv3.HttpConnectionManager{}) {
			t.Errorf("%s: merges more than headers_with_underscores_action: %v", at, &hcm)
		}
		dropped[p.Match.Context] = true
	}
	for _, c := range contexts {
		if !dropped[c] {
			t.Errorf("%s: no DROP_HEADER patch for context %s", file, c)
		}
	}
}

type envoyFilter struct {
	Spec struct {
		ConfigPatches []struct {
			ApplyTo string `json:"applyTo"`
			Match   struct {
				Context  string `json:"context"`
				Listener struct {
					FilterChain struct {
						Filter struct {
							Name string `json:"name"`
						} `json:"filter"`
					} `json:"filterChain"`
				} `json:"listener"`
			} `json:"match"`
			Patch struct {
				Operation string `json:"operation"`
				Value     struct {
					TypedConfig any `json:"typed_config"`
				} `json:"value"`
			} `json:"patch"`
		} `json:"configPatches"`
	} `json:"spec"`
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
