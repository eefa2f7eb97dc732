package kube

import (
	"testing"

	"github.com/betterauthz/betterauthz/internal/config"
)

// FuzzAnnotations indexes a Service and an Ingress carrying arbitrary betterauthz.io/
// annotations: a malformed annotation leaves only its own object out (reported with the
// reason), never the other object, and building the index never panics.
func FuzzAnnotations(f *testing.F) {
	f.Add("public", "/docs/**", "- {paths: [/admin/**], claims: {role: [admin]}}")
	f.Add("nope", "", "")
	f.Add("", "x", "- {hosts: [a]}")
	f.Add("deny", "/a, /b", "{")
	settings := config.Annotations{Enabled: true, AllowPublic: true, ClusterDomain: "cluster.local"}
	f.Fuzz(func(t *testing.T, policy, publicPaths, rules string) {
		ann := map[string]string{}
		for k, v := range map[string]string{"betterauthz.io/policy": policy, "betterauthz.io/public-paths": publicPaths, "betterauthz.io/rules": rules} {
			if v != "" {
				ann[k] = v
			}
		}
		fuzzed := &Object{Kind: "Service", APIVersion: "v1", Namespace: "shop", Name: "orders", UID: "u1", Annotations: ann}
		good := &Object{Kind: "Service", APIVersion: "v1", Namespace: "shop", Name: "catalog", UID: "u2", Annotations: map[string]string{"betterauthz.io/policy": "public"}}
		built := BuildIndex([]*Object{fuzzed, good}, settings, Cluster{})
		mesh, invalid := built.Objects, built.Invalid
		for _, inv := range invalid {
			if inv.Object != fuzzed || inv.Err == nil || inv.Err.Error() == "" {
				t.Fatalf("invalid %+v", inv)
			}
		}
		found := false
		for _, o := range mesh.Objects {
			if o.Name == "catalog" && o.Rules != nil {
				found = true
			}
		}
		if !found {
			t.Fatal("a malformed annotation on one object dropped another's policy")
		}
	})
}
