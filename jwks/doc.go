// Package jwks verifies Better Auth JWTs against the issuer's JSON Web Key Set, which it keeps
// fresh in the background. It knows nothing of Envoy, Kubernetes or the authorization policy.
//
// A KeySet (keyset.go) holds Better Auth's keys: Run loads them and refreshes them in the
// background, and KeyRead, for a kid it does not hold — Better Auth rotates lazily, so a new
// key appears with the first token it signs — waits for one coalesced, rate-limited refresh
// (refresh.go). Fetches (fetch.go) are bounded in time and size, never follow redirects, and
// only a whole, unambiguous key set replaces the last good one. keyfunc/v3 reads the keys
// through a read-only jwkset.Storage (store.go).
//
// A Verifier (verifier.go) reads a compact token strictly (jose.go, strictjson.go), checks its
// signature with golang-jwt/v5's signing methods and the key keyfunc finds, then its claims, and
// caches the outcome (cache.go). Every error wraps one sentinel of errors.go, so callers map
// failures onto answers with errors.Is, and Describe gives the client-safe text.
package jwks
