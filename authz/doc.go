// Package authz is betterauthz's decision, protocol-neutral: it answers "may this HTTP request
// go upstream, and as whom?" and knows nothing of Envoy, gRPC or Kubernetes.
//
// One request through the house:
//
//  1. A transport reads its protocol into a Request: authz/extauthz turns Envoy's CheckRequest
//     into one (the HTTP check endpoint will sit beside it).
//  2. The transport hands it to the Authorizer, which decides with the Live state in force —
//     the compiled config, the token verifier and the index of Kubernetes objects, published
//     whole by internal/server's reloader whenever one of them changes.
//  3. Decide reads the request's host and target strictly (host.go, target.go, path.go); a
//     path a backend could read more than one way yields every reading.
//  4. For each reading, precedence.go collects the rules that apply, most specific source first:
//     the Envoy route's context_extensions, the serving objects' annotations, the config's
//     routes, the default policy. The rules themselves — patterns, claims, object rules, the
//     route index — are package authz/policy's.
//  5. Decide applies them: deny wins, then the credential (token.go) is verified by package
//     jwks and checked against the rules' claims; identity.go turns the claims into identity
//     headers, set on allow and stripped otherwise.
//  6. The Decision carries a stable Reason; decision.go's one outcome table maps it to the gRPC
//     code, HTTP status, challenge, Retry-After and body that every transport renders alike.
//     The Observer (internal/server) logs and counts it.
package authz
