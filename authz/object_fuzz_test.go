package authz

import (
	"context"
	"testing"

	"github.com/betterauthz/betterauthz/authz/policy"
)

// FuzzObjectPolicy parses arbitrary betterauthz.io/ annotation values (the same keys Envoy
// sends as context_extensions) and decides requests with them as context_extensions: parsing
// never panics, every problem names its key and says what is wrong, and a route whose settings
// are invalid fails closed.
func FuzzObjectPolicy(f *testing.F) {
	f.Add("public", "/docs/**, /healthz", "- {paths: [/admin/**], claims: {role: [admin]}}")
	f.Add("deny", "", "")
	f.Add("", "/a,,/b", "- name: x\n  methods: [GET]\n  policy: public\n")
	f.Add("allow", "no-slash", "- {hosts: [a]}")
	f.Add("", "", "[1, 2")
	f.Add("authenticated", "/**", "- {paths: ['/*.css'], policy: public}\n- {claims: {emailVerified: true}}")
	v := fakeVerifier{"good": claims(`{"sub":"u1","role":"admin","emailVerified":true}`)}
	live := testPolicy().live(v, nil)
	f.Fuzz(func(t *testing.T, pol, publicPaths, rules string) {
		kv := map[string]string{}
		for k, val := range map[string]string{policy.KeyPolicy: pol, policy.KeyPublicPaths: publicPaths, policy.KeyRules: rules} {
			if val != "" {
				kv[k] = val
			}
		}
		op, err := policy.ParseObjectRules(kv, "fuzz")
		if err != nil {
			for _, prob := range policy.Problems(err) {
				if prob.Path == "" || prob.Msg == "" {
					t.Fatalf("problem without a key or a message: %#v", prob)
				}
			}
		}
		if err == nil && len(kv) > 0 && op == nil {
			t.Fatal("keys set but no policy")
		}
		for _, path := range []string{"/", "/admin/x", "/docs/a.css", "/healthz", "//x/admin"} {
			for _, token := range []string{"", "good"} {
				h := map[string]string{}
				if token != "" {
					h["authorization"] = "Bearer " + token
				}
				r := httpCheck("GET", "h", path, h)
				r.ContextExtensions = kv
				d := Decide(context.Background(), live, r)
				if err != nil && len(kv) > 0 && d.Reason != ReasonInvalidRoutePolicy {
					t.Fatalf("invalid settings (%v) decided %s", err, d.Reason)
				}
				if d.Allowed() && token == "" && d.Reason != ReasonPublic {
					t.Fatalf("allowed without a token as %s", d.Reason)
				}
			}
		}
	})
}
