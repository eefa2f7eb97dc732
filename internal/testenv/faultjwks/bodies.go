package faultjwks

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// The fault bodies are built from the upstream's real JWKS each time, so that they carry the
// keys the client would otherwise get: only the fault differs. Keys are kept as the raw JSON
// the upstream sent.

// parseKeys returns the members of a JWKS's "keys" array, as sent.
func parseKeys(body []byte) ([]json.RawMessage, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("upstream JWKS is not JSON: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`upstream JWKS has no "keys" member`)
	}
	return *doc.Keys, nil
}

// encodeSet writes {"keys":[...]} around keys, each as given.
func encodeSet(keys ...json.RawMessage) []byte {
	var b bytes.Buffer
	b.WriteString(`{"keys":[`)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(k)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// joined is real followed by more.
func joined(real []json.RawMessage, more ...json.RawMessage) []json.RawMessage {
	return append(append(make([]json.RawMessage, 0, len(real)+len(more)), real...), more...)
}

// withAttacker is Redirect's target: the real keys and the attacker's, under its own kid.
func (k *keys) withAttacker(real []json.RawMessage) []byte {
	return encodeSet(joined(real, k.attackerJWK)...)
}

func (k *keys) unsupportedBeside(real []json.RawMessage) []byte {
	return encodeSet(joined(real, k.unusable...)...)
}

// duplicateKid appends the attacker's public key under the first real key's kid. With no real
// key there is nothing to collide with, and the set is served unchanged.
func (k *keys) duplicateKid(real []json.RawMessage) []byte {
	if len(real) == 0 {
		return encodeSet()
	}
	return encodeSet(joined(real, k.attackerPublic(kidOf(real[0])))...)
}

// duplicateKidSame repeats the first real key byte for byte.
func duplicateKidSame(real []json.RawMessage) []byte {
	if len(real) == 0 {
		return encodeSet()
	}
	return encodeSet(joined(real, real[0])...)
}

// duplicateMember names the first real key's public value twice: a decoy first, the real
// value last. A key without such a value (or a set without keys) is served unchanged.
func (k *keys) duplicateMember(real []json.RawMessage) []byte {
	if len(real) == 0 {
		return encodeSet()
	}
	var first struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		N   string `json:"n"`
	}
	raw := bytes.TrimSpace(real[0])
	if json.Unmarshal(raw, &first) != nil || len(raw) == 0 || raw[0] != '{' {
		return encodeSet(real...)
	}
	name, value := "x", first.X
	if first.Kty == "RSA" {
		name, value = "n", first.N
	}
	if value == "" {
		return encodeSet(real...)
	}
	decoy := k.attackerX
	if first.Kty != "OKP" || first.Crv != "Ed25519" {
		// Same length as the real value, so only the content tells them apart.
		n, err := base64.RawURLEncoding.DecodeString(value)
		if err != nil {
			return encodeSet(real...)
		}
		r := make([]byte, len(n))
		_, _ = rand.Read(r)
		decoy = b64(r)
	}
	member, _ := json.Marshal(name)
	val, _ := json.Marshal(decoy)
	dup := make([]byte, 0, len(raw)+len(member)+len(val)+2)
	dup = append(dup, '{')
	dup = append(dup, member...)
	dup = append(dup, ':')
	dup = append(dup, val...)
	dup = append(dup, ',')
	dup = append(dup, raw[1:]...)
	keys := joined(real)
	keys[0] = dup
	return encodeSet(keys...)
}

// kidOf is a JWK's kid ("" if it has none).
func kidOf(raw json.RawMessage) string {
	var k struct {
		Kid string `json:"kid"`
	}
	_ = json.Unmarshal(raw, &k)
	return k.Kid
}

// hugeSize is about how large Huge's document is: ten times the 1 MiB cap a client should
// have, small enough to send in a moment on loopback.
const hugeSize = 10 << 20

// huge is Huge's document in three parts, the padding written in chunks rather than held:
// prefix, then padLen bytes of 'a', then suffix.
func huge(real []json.RawMessage) (prefix []byte, padLen int, suffix []byte) {
	set := encodeSet(real...)
	// {"keys":[...],"padding":"aaaa…"}: set without its closing brace, then the member.
	prefix = append(set[:len(set)-1:len(set)-1], `,"padding":"`...)
	return prefix, hugeSize, []byte(`"}`)
}
