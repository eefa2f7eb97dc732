// Package jwks verifies Better Auth JWTs against the issuer's JSON Web Key Set, which it keeps
// fresh in the background. It knows nothing of Envoy, Kubernetes or the authorization policy.
// It is the front door: the rest of betterauthz uses jwks alone, and three packages beneath it
// each hold one idea:
//
//   - keyset: the key set's life — the first load, background refreshes, one coalesced,
//     rate-limited refresh for an unknown kid, the last good keys kept through an outage until
//     they are too old to trust, and the strict fetch and parse of a JWKS document;
//   - jws: a compact JWS read strictly (canonical base64url, one JSON object per part,
//     distinct member names, no crit) and its signature checked with golang-jwt/v5;
//   - claims: verified claims in their one, compact form — their JSON and an index, read on
//     demand — and the verified-token cache that keeps them.
//
// A Verifier (verifier.go) ties them together: it reads a token strictly, picks the issuer its
// iss names, has that issuer's key set supply the key, checks the signature, then the
// registered claims (validate.go), and caches the outcome. Explain (explain.go) runs the same
// checks one by one for a person. Every error wraps one sentinel of errors.go, so callers map
// failures onto answers with errors.Is, and Describe gives the client-safe text.
package jwks
