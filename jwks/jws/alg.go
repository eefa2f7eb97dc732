package jws

import (
	"errors"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// algorithms are those Better Auth's JWT plugin can sign with. EdDSA (Ed25519) is its default.
var algorithms = []string{"EdDSA", "ES256", "ES512", "RS256", "PS256"}

// Algorithms lists the algorithms Better Auth's JWT plugin can sign with, its default (EdDSA)
// first. The slice is the caller's.
func Algorithms() []string { return slices.Clone(algorithms) }

// Supported reports whether alg (canonical) is one of Algorithms.
func Supported(alg string) bool { return slices.Contains(algorithms, alg) }

// AlgEd25519 is RFC 9864's fully-specified name of EdDSA over Ed25519, the only EdDSA Better
// Auth signs with: accepted as EdDSA wherever an algorithm is named (tokens, JWKs, lists).
const AlgEd25519 = "Ed25519"

// CanonicalAlgorithm is the name this package uses for an algorithm: EdDSA for Ed25519, the
// name itself otherwise.
func CanonicalAlgorithm(alg string) string {
	if alg == AlgEd25519 {
		return "EdDSA"
	}
	return alg
}

// Verify checks t's signature with key, a key for alg (one of Algorithms, canonical).
func (t JWS) Verify(alg string, key any) error {
	if err := signingMethod(alg).Verify(t.signingInput, t.signature, key); err != nil {
		if errors.Is(err, jwt.ErrInvalidKeyType) {
			return ErrKeyMismatch
		}
		return ErrSignature
	}
	return nil
}

// signingMethod is golang-jwt's signing method for one of algorithms.
func signingMethod(alg string) jwt.SigningMethod {
	switch alg {
	case "EdDSA":
		return jwt.SigningMethodEdDSA
	case "ES256":
		return jwt.SigningMethodES256
	case "ES512":
		return jwt.SigningMethodES512
	case "RS256":
		return jwt.SigningMethodRS256
	case "PS256":
		return jwt.SigningMethodPS256
	}
	panic("jws: no signing method for " + alg) // algorithms lists only these
}
