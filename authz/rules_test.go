package authz

import (
	"context"
	"testing"

	"github.com/betterauthz/betterauthz/authz/policy"
)

func objectWith(t *testing.T, kind, ns, name string, ann map[string]string, routes ...policy.ServedRoute) *policy.Object {
	t.Helper()
	o := &policy.Object{Kind: kind, Namespace: ns, Name: name, Routes: routes}
	if ann != nil {
		rules, err := policy.ParseObjectRules(ann, kind+" "+ns+"/"+name)
		if err != nil {
			t.Fatal(err)
		}
		o.Rules = rules
	}
	return o
}

func TestMeshPrecedenceAndTighten(t *testing.T) {
	// The config: /admin/** needs role admin, /internal/** deny, default authenticated.
	public := objectWith(t, "Service", "shop", "api", map[string]string{policy.KeyPolicy: "public"}, policy.ServedRoute{Hosts: []string{"api"}, Paths: []policy.RoutedPath{{Value: "/"}}})
	v := fakeVerifier{"user": claims(`{"sub":"u","role":"user"}`)}
	decide := func(mesh *policy.ObjectIndex, tighten bool, path string, h map[string]string, ext map[string]string) Decision {
		r := httpCheck("GET", "api", path, h)
		r.ContextExtensions = ext
		pol := routedPolicy(t)
		pol.AnnotationsOnlyTighten = tighten
		return Decide(context.Background(), pol.live(v, mesh), r)
	}
	mesh := policy.NewObjectIndex([]*policy.Object{public})
	if d := decide(mesh, false, "/internal/x", nil, nil); d.Reason != ReasonPublic {
		t.Errorf("annotation over config routes: %s", d.Reason)
	}
	if d := decide(mesh, false, "/x", nil, map[string]string{policy.KeyPolicy: "deny"}); d.Reason != ReasonPolicyDenied {
		t.Errorf("context_extensions over annotations: %s", d.Reason)
	}
	if d := decide(mesh, true, "/internal/x", nil, nil); d.Reason != ReasonPolicyDenied || d.Route != "Service shop/api betterauthz.io/policy+internal" {
		t.Errorf("allowPublic false, public annotation on a denied path: %s via %s", d.Reason, d.Route)
	}
	if d := decide(mesh, true, "/x", nil, nil); d.Reason != ReasonMissingToken {
		t.Errorf("allowPublic false, public annotation: %s", d.Reason)
	}
	strict := policy.NewObjectIndex([]*policy.Object{objectWith(t, "Service", "shop", "api", map[string]string{policy.KeyRules: "- claims: {role: editor}"}, policy.ServedRoute{Hosts: []string{"api"}, Paths: []policy.RoutedPath{{Value: "/"}}})})
	if d := decide(strict, true, "/x", map[string]string{"authorization": "Bearer user"}, nil); d.Reason != ReasonInsufficientClaims {
		t.Errorf("allowPublic false still lets annotations tighten: %s", d.Reason)
	}
}
