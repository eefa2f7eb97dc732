package faultjwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
)

// Kids of the keys the server makes up. The attacker's kid is random per server (see
// AttackerKey) so that it can never name a real key.
const (
	KidOct       = "fault-oct"
	KidEnc       = "fault-use-enc"
	KidUnknown   = "fault-unknown-kty"
	KidWeakRSA   = "fault-rsa-1024"
	KidOffCurve  = "fault-ec-off-curve"
	weakRSABits  = 1024
	attackerKidN = 8 // random bytes in the attacker's kid
)

// keys are the keys one server makes up, generated once at start.
type keys struct {
	attackerKid string
	attacker    ed25519.PrivateKey
	attackerX   string // its public key, base64url (a JWK's "x")
	weakRSA     *rsa.PrivateKey
	// attackerJWK is the attacker's public key as a JWK under attackerKid.
	attackerJWK json.RawMessage
	// unusable are the keys UnsupportedBeside adds, in the order listed there.
	unusable []json.RawMessage
}

func newKeys() (*keys, error) {
	k := &keys{}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("faultjwks: attacker key: %w", err)
	}
	k.attacker, k.attackerX = priv, b64(pub)
	id := make([]byte, attackerKidN)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("faultjwks: attacker kid: %w", err)
	}
	k.attackerKid = "attacker-" + hex.EncodeToString(id)
	k.attackerJWK = k.attackerPublic(k.attackerKid)

	if k.weakRSA, err = rsa.GenerateKey(rand.Reader, weakRSABits); err != nil {
		return nil, fmt.Errorf("faultjwks: %d-bit RSA key: %w", weakRSABits, err)
	}
	enc, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("faultjwks: P-256 key: %w", err)
	}
	encPoint, err := enc.PublicKey.Bytes() // uncompressed: 0x04 || X || Y
	if err != nil {
		return nil, fmt.Errorf("faultjwks: P-256 key: %w", err)
	}
	encX, encY := encPoint[1:33], encPoint[33:]
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	// (1, 1) is not on P-256 (y² = x³ − 3x + b would need b = 3): a client that does not check
	// the point would do arithmetic on an invalid curve point.
	one := make([]byte, 32)
	one[31] = 1
	k.unusable = []json.RawMessage{
		mustJSON(map[string]string{"kty": "oct", "kid": KidOct, "alg": "HS256", "k": b64(secret)}),
		mustJSON(map[string]string{"kty": "EC", "kid": KidEnc, "crv": "P-256", "alg": "ECDH-ES", "use": "enc", "x": b64(encX), "y": b64(encY)}),
		mustJSON(map[string]string{"kty": "QUANTUM", "kid": KidUnknown, "alg": "EdDSA", "x": b64(secret)}),
		mustJSON(map[string]string{"kty": "RSA", "kid": KidWeakRSA, "alg": "RS256", "n": b64(k.weakRSA.N.Bytes()), "e": b64(big.NewInt(int64(k.weakRSA.E)).Bytes())}),
		mustJSON(map[string]string{"kty": "EC", "kid": KidOffCurve, "crv": "P-256", "alg": "ES256", "x": b64(one), "y": b64(one)}),
	}
	return k, nil
}

// attackerPublic is the attacker's public key as a JWK under kid.
func (k *keys) attackerPublic(kid string) json.RawMessage {
	return mustJSON(map[string]string{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": kid, "x": k.attackerX})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// mustJSON marshals values that cannot fail to marshal (maps of strings).
func mustJSON(v map[string]string) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// AttackerKey is the key nobody published: Redirect's target serves its public half under kid,
// and DuplicateKid and DuplicateMember slip it in under a real kid. A token signed with it must
// never be accepted.
func (s *Server) AttackerKey() (kid string, key ed25519.PrivateKey) {
	return s.keys.attackerKid, s.keys.attacker
}

// WeakRSAKey is the 1024-bit RSA key UnsupportedBeside lists under KidWeakRSA: tokens signed
// with it tell whether a client accepted a key that short.
func (s *Server) WeakRSAKey() (kid string, key *rsa.PrivateKey) {
	return KidWeakRSA, s.keys.weakRSA
}
