// Package jwks verifies Better Auth JWTs against the issuer's JSON Web Key Set, which it keeps
// fresh in the background. It knows nothing of Envoy, Kubernetes or the authorization policy.
//
// A KeySet (keyset.go) holds Better Auth's keys: Run loads them and refreshes them in the
// background, and KeyRead, for a kid it does not hold — Better Auth rotates lazily, so a new
// key appears with the first token it signs — waits for one coalesced, rate-limited refresh
// (refresh.go). Fetches (fetch.go) are bounded in time and size, never follow redirects, and
// only a whole, unambiguous key set replaces the last good one; each fetch resolves its keys
// for signature checks once (verificationkey.go).
//
// A Verifier (verifier.go) reads a compact token strictly (jose.go, strictjson.go), checks its
// signature with golang-jwt/v5's signing methods, then its registered claims (validate.go), and
// caches the outcome (cache.go). Claims are kept compact — their JSON and an index, read on
// demand (compactclaims.go, value.go) — so that a cached token costs little memory and a cache
// hit no allocation. Every error wraps one sentinel of errors.go, so callers map failures onto
// answers with errors.Is, and Describe gives the client-safe text.
package jwks
