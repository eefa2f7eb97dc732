package manifests_test

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/betterauthz/betterauthz/internal/testenv/envoyvalidate"
)

// The route and cluster docs/oauth-resources.md gives Envoy for RFC 9728 metadata are valid
// Envoy config, and point at each other.
func TestEnvoyOAuthMetadataRoute(t *testing.T) {
	var r routev3.Route
	envoyvalidate.File(t, "envoy/oauth-metadata-route.yaml", &r)
	var c clusterv3.Cluster
	envoyvalidate.File(t, "envoy/oauth-metadata-cluster.yaml", &c)
	if r.GetRoute().GetCluster() != c.GetName() || r.GetMatch().GetPathSeparatedPrefix() != "/.well-known/oauth-protected-resource" {
		t.Fatalf("route to %q for %q, cluster %q", r.GetRoute().GetCluster(), r.GetMatch().GetPathSeparatedPrefix(), c.GetName())
	}
	if c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress().GetPortValue() != 8081 {
		t.Fatal("the cluster is not the HTTP check port")
	}
}
