package keyset

import (
	"context"
	"crypto"

	"github.com/MicahParks/jwkset"
)

// verificationKey is a JWK as a signature check uses it: the key and the algorithm it is for,
// resolved once per fetch rather than per token.
type verificationKey struct {
	alg string // the JWK's alg; "" when it names none
	key any    // its public key
}

func verificationKeyOf(j jwkset.JWK) verificationKey {
	key := j.Key()
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = pk.Public() // a JWKS that leaks a private key still yields its public half
	}
	return verificationKey{alg: j.Marshal().ALG.String(), key: key}
}

// Key returns the public key that checks a token of alg whose header names kid. A kid the
// current set does not hold goes through KeyRead, which waits for a refresh; keys past MaxKeyAge
// are refused (ErrKeysStale) either way. A key whose JWK names another alg is refused
// (ErrKeyAlgorithm).
func (k *KeySet) Key(ctx context.Context, kid, alg string) (any, error) {
	vk, ok := k.lookup(kid)
	if !ok || k.Stale() {
		jwk, err := k.KeyRead(ctx, kid)
		if err != nil {
			return nil, err
		}
		vk = verificationKeyOf(jwk)
	}
	if vk.alg != "" && vk.alg != alg {
		return nil, ErrKeyAlgorithm
	}
	return vk.key, nil
}
