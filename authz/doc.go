// Package authz is betterauthz's decision, protocol-neutral: it answers "may this HTTP request
// go upstream, and as whom?" and knows nothing of Envoy, gRPC or Kubernetes.
//
// A transport reads its protocol into a Request (request.go) — authz/extauthz Envoy's
// CheckRequest, authz/httpcheck a proxy's HTTP auth request — and hands it to the Authorizer
// (authorizer.go), which decides with the Snapshot in force (snapshot.go): the compiled config,
// the token verifier and the index of Kubernetes objects, published whole by internal/server's
// reloader whenever one of them changes. Decide (decide.go) is the decision, five steps in the
// order the code is written:
//
//  1. Read the request's host and target strictly (read.go): a path a backend could read more
//     than one way yields every reading.
//  2. Find the rules every reading must satisfy (rules.go), most specific source first: the
//     Envoy route's context_extensions, the serving objects' annotations, the config's routes,
//     the default policy. The rules themselves are package authz/policy's.
//  3. Get the credential and verify it (credential.go): a Bearer token (package jwks), else
//     Better Auth's session cookies (cookies.go), from a trusted origin (browser.go).
//  4. Decide: a deny rule closes the route, a public one lets everything through, any other
//     needs a valid credential with the issuer and claims its rules ask for; a browser without
//     one is sent to sign in (browser.go); a dry run allows what it would deny.
//  5. Write the identity headers (identity.go): set from a valid credential on an allowed
//     request, stripped otherwise.
//
// The Decision carries a stable Reason; decision.go's one outcome table maps it to the gRPC
// code, HTTP status, challenge, Retry-After and body that every transport renders alike. The
// Observer (internal/server) logs and counts it.
package authz
