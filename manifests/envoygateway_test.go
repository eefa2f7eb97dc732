package manifests_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/testenv/envoyvalidate"
	"github.com/betterauthz/betterauthz/internal/testenv/kubeapi"
)

// translate runs Envoy Gateway's own translator (egctl x translate, the same code its controller
// runs) on the cluster of testdata/envoy-gateway-cluster.yaml plus the given YAML documents, and
// returns the objects with their status and the Envoy config it generates, as generic YAML.
func translate(t *testing.T, docs ...string) map[string]any {
	t.Helper()
	bins, err := kubeapi.Binaries("egctl")
	if err != nil {
		t.Fatal(err)
	}
	in := []string{readFile(t, "testdata/envoy-gateway-cluster.yaml")}
	in = append(in, docs...)
	f := filepath.Join(t.TempDir(), "in.yaml")
	if err := os.WriteFile(f, []byte(strings.Join(in, "\n---\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bins["egctl"], "x", "translate", "--from", "gateway-api", "--to", "gateway-api,xds", "-t", "all", "-o", "yaml", "--add-missing-resources", "-f", f)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("egctl x translate: %v\n%s", err, stderr.String())
	}
	var doc map[string]any
	if err := yaml.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// walk calls f for every map inside v, depth first.
func walk(v any, f func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		f(v)
		for _, x := range v {
			walk(x, f)
		}
	case []any:
		for _, x := range v {
			walk(x, f)
		}
	}
}

// typed decodes a generic {"@type": …} map of egctl's output (protobuf JSON as YAML) into msg,
// and validates it with Envoy's rules.
func typed(t *testing.T, m map[string]any, msg proto.Message) {
	t.Helper()
	m = maps(m)
	delete(m, "@type")
	js, _ := json.Marshal(m)
	if err := protojson.Unmarshal(js, msg); err != nil {
		t.Fatalf("%T: %v", msg, err)
	}
	if err := envoyvalidate.Validate(msg); err != nil {
		t.Fatal(err)
	}
}

func maps(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

const (
	extAuthzType = "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz"
	perRouteType = "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute"
	hcmType      = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
	clusterType  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
)

// generated is what the translator made of the shipped policies.
type generated struct {
	filters   map[string]*extauthzv3.ExtAuthz // by HTTP filter name
	perRoute  map[string]map[string]*extauthzv3.ExtAuthzPerRoute
	hcms      []map[string]any
	clusters  map[string]map[string]any
	policies  []map[string]any
	routeless []string // routes with no ext_authz enabled
}

func readGenerated(t *testing.T, doc map[string]any) generated {
	t.Helper()
	g := generated{filters: map[string]*extauthzv3.ExtAuthz{}, perRoute: map[string]map[string]*extauthzv3.ExtAuthzPerRoute{}, clusters: map[string]map[string]any{}}
	walk(doc["xds"], func(m map[string]any) {
		if m["@type"] == hcmType {
			filters, _ := m["httpFilters"].([]any)
			for _, hf := range filters {
				hf, _ := hf.(map[string]any)
				if tc, _ := hf["typedConfig"].(map[string]any); tc["@type"] == extAuthzType {
					var ea extauthzv3.ExtAuthz
					typed(t, tc, &ea)
					g.filters[hf["name"].(string)] = &ea
					if !slices.ContainsFunc(g.hcms, func(h map[string]any) bool { return h["statPrefix"] == m["statPrefix"] }) {
						g.hcms = append(g.hcms, m) // a listener that asks betterauthz (not the ready or stats ones)
					}
				}
			}
		}
		if name, _ := m["name"].(string); m["@type"] == clusterType {
			g.clusters[name] = m
		}
		if routeName, _ := m["name"].(string); strings.HasPrefix(routeName, "httproute/") && m["match"] != nil {
			g.perRoute[routeName] = map[string]*extauthzv3.ExtAuthzPerRoute{}
			tpfc, _ := m["typedPerFilterConfig"].(map[string]any)
			for filter, c := range tpfc {
				if c := c.(map[string]any); c["@type"] == perRouteType {
					var pr extauthzv3.ExtAuthzPerRoute
					typed(t, c, &pr)
					g.perRoute[routeName][filter] = &pr
				}
			}
			if len(g.perRoute[routeName]) == 0 {
				g.routeless = append(g.routeless, routeName)
			}
		}
	})
	for _, p := range doc["securityPolicies"].([]any) {
		g.policies = append(g.policies, p.(map[string]any))
	}
	return g
}

// accepted reports the Accepted condition of each SecurityPolicy, by name.
func (g generated) accepted() map[string]string {
	out := map[string]string{}
	for _, p := range g.policies {
		name := p["metadata"].(map[string]any)["name"].(string)
		walk(p["status"], func(m map[string]any) {
			if m["type"] == "Accepted" {
				out[name] = m["status"].(string)
			}
		})
	}
	return out
}

// checkListeners: what betterauthz relies on in every HTTP connection manager Envoy Gateway
// generates — paths normalised before ext_authz sees them, and no header name with an
// underscore let through (x_user_id is x-user-id to CGI and WSGI apps).
func checkListeners(t *testing.T, g generated) {
	t.Helper()
	if len(g.hcms) == 0 {
		t.Fatal("no HTTP connection manager with ext_authz generated")
	}
	for _, h := range g.hcms {
		opts, _ := h["commonHttpProtocolOptions"].(map[string]any)
		if a := opts["headersWithUnderscoresAction"]; a != "REJECT_REQUEST" && a != "DROP_HEADER" {
			t.Errorf("headersWithUnderscoresAction %v: a client's x_user_id would reach the app", a)
		}
		if h["normalizePath"] != true || h["mergeSlashes"] != true || h["pathWithEscapedSlashesAction"] != "UNESCAPE_AND_REDIRECT" {
			t.Errorf("paths not normalised before ext_authz: normalizePath %v, mergeSlashes %v, pathWithEscapedSlashesAction %v",
				h["normalizePath"], h["mergeSlashes"], h["pathWithEscapedSlashesAction"])
		}
	}
	if len(g.routeless) > 0 {
		t.Errorf("routes without ext_authz: %v", g.routeless)
	}
}

// TestEnvoyGatewayTranslatesTheGRPCPolicies runs Envoy Gateway's translator on the shipped gRPC
// SecurityPolicies and checks the ext_authz settings betterauthz relies on.
func TestEnvoyGatewayTranslatesTheGRPCPolicies(t *testing.T) {
	g := readGenerated(t, translate(t, readFile(t, "envoy-gateway/securitypolicy-grpc.yaml"), readFile(t, "envoy-gateway/securitypolicy-route.yaml")))
	checkListeners(t, g)
	if a := g.accepted(); a["betterauthz"] != "True" || a["storefront-betterauthz"] != "True" {
		t.Fatalf("SecurityPolicies accepted: %v", a)
	}
	if len(g.filters) != 2 {
		t.Fatalf("%d ext_authz filters, want the Gateway's and the route's", len(g.filters))
	}
	for name, ea := range g.filters {
		gs := ea.GetGrpcService()
		switch {
		case ea.GetTransportApiVersion().String() != "V3":
			t.Errorf("%s: transport_api_version %s", name, ea.GetTransportApiVersion())
		case ea.GetFailureModeAllow():
			t.Errorf("%s: failure_mode_allow: an unreachable betterauthz would let requests through", name)
		case ea.GetStatusOnError().GetCode() != 503:
			t.Errorf("%s: status_on_error %v, want 503", name, ea.GetStatusOnError().GetCode())
		case gs.GetTimeout().AsDuration().Seconds() != 1:
			t.Errorf("%s: timeout %v, want the policy's 1s", name, gs.GetTimeout())
		case ea.GetAllowedHeaders() != nil:
			t.Errorf("%s: allowed_headers set: Cookie, Origin, ... would not reach betterauthz", name)
		}
		cluster := g.clusters[gs.GetEnvoyGrpc().GetClusterName()]
		if !strings.Contains(toJSON(cluster), "http2ProtocolOptions") {
			t.Errorf("%s: cluster %s does not speak HTTP/2 to betterauthz", name, gs.GetEnvoyGrpc().GetClusterName())
		}
	}
	// The route with a SecurityPolicy of its own runs that policy's filter alone, with its
	// context extensions, which betterauthz reads as it reads annotations.
	var route map[string]*extauthzv3.ExtAuthzPerRoute
	for name, pr := range g.perRoute {
		if strings.HasPrefix(name, "httproute/shop/storefront/") {
			route = pr
		}
	}
	if len(route) != 1 {
		t.Fatalf("the storefront route enables %d ext_authz filters, want its own policy's", len(route))
	}
	for filter, pr := range route {
		if !strings.Contains(filter, "shop/storefront-betterauthz") {
			t.Errorf("the storefront route enables %s", filter)
		}
		ext := pr.GetCheckSettings().GetContextExtensions()
		if len(ext) != 2 {
			t.Errorf("context_extensions %v", ext)
		}
		if _, err := policy.ParseObjectRules(ext, "envoy-gateway"); err != nil {
			t.Errorf("context_extensions: %v", err)
		}
	}
}

// TestEnvoyGatewayTranslatesTheHTTPPolicy: the HTTP check mode's policy asks /envoy/<path>,
// sends what browser sessions need, and copies every default identity header to the app.
func TestEnvoyGatewayTranslatesTheHTTPPolicy(t *testing.T) {
	grant := readFile(t, "envoy-gateway/securitypolicy-grpc.yaml")
	grant = grant[strings.Index(grant, "apiVersion: gateway.networking.k8s.io/v1beta1"):]
	g := readGenerated(t, translate(t, readFile(t, "envoy-gateway/securitypolicy-http.yaml"), grant))
	checkListeners(t, g)
	if a := g.accepted(); a["betterauthz"] != "True" {
		t.Fatalf("SecurityPolicy accepted: %v", a)
	}
	if len(g.filters) != 1 {
		t.Fatalf("%d ext_authz filters", len(g.filters))
	}
	s, err := config.Parse(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var identity []string
	for _, h := range s.IdentityHeaders {
		identity = append(identity, h.Name)
	}
	for _, ea := range g.filters {
		hs := ea.GetHttpService()
		if hs.GetPathPrefix() != "/envoy" {
			t.Errorf("path_prefix %q, want /envoy", hs.GetPathPrefix())
		}
		if ea.GetStatusOnError().GetCode() != 503 || ea.GetFailureModeAllow() {
			t.Errorf("status_on_error %v, failure_mode_allow %v", ea.GetStatusOnError().GetCode(), ea.GetFailureModeAllow())
		}
		if got := exacts(hs.GetAuthorizationResponse().GetAllowedUpstreamHeaders().GetPatterns()); !sameSet(got, identity) {
			t.Errorf("allowed_upstream_headers %v, want the default identity headers %v", got, identity)
		}
		sent := exacts(ea.GetAllowedHeaders().GetPatterns())
		for _, h := range []string{"cookie", "origin", "referer", "accept"} {
			if !slices.Contains(sent, h) {
				t.Errorf("allowed_headers %v lack %s", sent, h)
			}
		}
	}
}

// TestEnvoyGatewayWithoutReferenceGrant: the policy names a Service of another namespace, which
// Envoy Gateway refuses without the ReferenceGrant — failing closed (500), not open.
func TestEnvoyGatewayWithoutReferenceGrant(t *testing.T) {
	policyOnly := readFile(t, "envoy-gateway/securitypolicy-grpc.yaml")
	grant := strings.Index(policyOnly, "apiVersion: gateway.networking.k8s.io/v1beta1")
	policyOnly = policyOnly[:strings.LastIndex(policyOnly[:grant], "\n---\n")+1]
	doc := translate(t, policyOnly)
	g := readGenerated(t, doc)
	if a := g.accepted(); a["betterauthz"] != "False" {
		t.Fatalf("SecurityPolicy accepted without its ReferenceGrant: %v", a)
	}
	if !strings.Contains(toJSON(doc["xds"]), `"directResponse":{"status":500}`) {
		t.Error("the Gateway's routes do not fail closed without the ReferenceGrant")
	}
}

func exacts(ms []*matcherv3.StringMatcher) []string {
	var out []string
	for _, m := range ms {
		out = append(out, strings.ToLower(m.GetExact()))
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
