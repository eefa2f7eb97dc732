// Package policy is betterauthz's policy model: which rules apply to a request, not how a
// request is read or answered (package authz does that).
//
//   - A Rule (rule.go) is compiled from a RuleSpec as written in the config's routes, in a
//     betterauthz.io/rules annotation or in Envoy's context_extensions: host and path patterns
//     (pattern.go), methods, an Action (action.go) and claim requirements (claims.go). It is
//     matched against a request's host and the readings of its path (path.go: Readings).
//   - Routes (routes.go) are the config's rules, first match wins, indexed by their literal
//     path prefixes, and the default policy.
//   - ObjectRules (object.go) are the rules one Kubernetes object or Envoy route sets for itself
//     with the betterauthz.io/ keys; Extensions (extensions.go) parses Envoy's once per set.
//   - An ObjectIndex (objects.go) finds the objects that serve a request by host and routed
//     path, so that their rules decide.
//
// Policies are YAML, decoded strictly with the key path and line of every problem (yaml.go,
// errors.go).
package policy
