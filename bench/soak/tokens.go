package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/faultjwks"
)

// token is one bearer token the load sends.
type token struct {
	raw string
	kid string // "" when the kid is made up (bogus)
	sub string
}

// generation is the tokens of one Better Auth signing key: between two rotations.
type generation struct {
	kid      string
	valid    []token
	expired  []token
	tampered []token
}

// pool is what the load picks tokens from. Rotations add generations and retire the oldest.
type pool struct {
	ba *betterauth.Server
	fj *faultjwks.Server

	mu        sync.RWMutex
	gens      []*generation // oldest first
	attacker  []token       // signed by the attacker key under its own kid
	collision []token       // signed by the attacker key under the first real kid
	first     string        // the first kid of Better Auth's JWKS, as of the last refreshForged
	weakRSA   []token       // signed by the 1024-bit RSA key
	bogusKids []string      // a few made-up kids, reused (so repeats hit the negative cache)
}

const (
	// tokensPerGen valid tokens per key: enough distinct users to exercise the cache.
	tokensPerGen = 40
	// keepGens keys stay in use; the oldest is retired when a rotation adds one more. Every
	// token is then at most a few rotations old, far from Better Auth's 15-minute expiry.
	keepGens = 3
	// drain lets checks already holding a retired generation's token finish before its kid
	// leaves the JWKS: longer than the check deadline.
	drain = checkDeadline + 500*time.Millisecond
)

func newPool(ba *betterauth.Server, fj *faultjwks.Server) (*pool, error) {
	p := &pool{ba: ba, fj: fj}
	for range 8 {
		p.bogusKids = append(p.bogusKids, randomKid("bogus"))
	}
	g, err := p.mintGeneration()
	if err != nil {
		return nil, err
	}
	p.gens = []*generation{g}
	if err := p.refreshForged(); err != nil {
		return nil, err
	}
	return p, nil
}

// mintGeneration gets a key's tokens from Better Auth: most from its JWT plugin's signJWT,
// one through a real sign-up and GET /api/auth/token, and expired ones.
func (p *pool) mintGeneration() (*generation, error) {
	raws, err := p.ba.Tokens("EdDSA", tokensPerGen-1)
	if err != nil {
		return nil, err
	}
	m, err := p.ba.Mint(betterauth.MintOptions{})
	if err != nil {
		return nil, err
	}
	raws = append(raws, m.Token)
	g := &generation{}
	for _, raw := range raws {
		t, err := parseToken(raw)
		if err != nil {
			return nil, err
		}
		if g.kid == "" {
			g.kid = t.kid
		}
		if t.kid != g.kid {
			return nil, fmt.Errorf("tokens of one generation are signed by two keys, %s and %s", g.kid, t.kid)
		}
		g.valid = append(g.valid, t)
		g.tampered = append(g.tampered, tamper(t))
	}
	for range 2 {
		m, err := p.ba.Mint(betterauth.MintOptions{ExpirationTime: "-10m"})
		if err != nil {
			return nil, err
		}
		t, err := parseToken(m.Token)
		if err != nil {
			return nil, err
		}
		if t.kid != g.kid {
			return nil, fmt.Errorf("an expired token is signed by %s, the generation by %s", t.kid, g.kid)
		}
		g.expired = append(g.expired, t)
	}
	return g, nil
}

// rotate makes Better Auth rotate its key and adds the new key's tokens; it then retires the
// oldest key once more than keepGens are in use: its tokens leave the pool first, and the kid
// leaves the JWKS only after the checks holding them have finished. It returns the retired
// kid ("" if none).
func (p *pool) rotate() (newKid, retired string, err error) {
	if err := p.ba.Rotate("EdDSA"); err != nil {
		return "", "", err
	}
	g, err := p.mintGeneration()
	if err != nil {
		return "", "", err
	}
	p.mu.Lock()
	prev := p.gens[len(p.gens)-1].kid
	p.gens = append(p.gens, g)
	var old *generation
	if len(p.gens) > keepGens {
		old = p.gens[0]
		p.gens = p.gens[1:]
	}
	p.mu.Unlock()
	if g.kid == prev {
		return "", "", fmt.Errorf("the rotation did not change the signing key (still %s)", prev)
	}
	if old == nil {
		return g.kid, "", p.refreshForged()
	}
	p.mu.Lock()
	p.collision = nil // it may name the kid about to go
	p.mu.Unlock()
	time.Sleep(drain)
	if err := p.ba.RetireKid(old.kid); err != nil {
		return "", "", err
	}
	return g.kid, old.kid, p.refreshForged()
}

// refreshForged re-signs the tokens Better Auth did not issue, with fresh expiry, and points
// the collision tokens at the JWKS's first kid (the one DuplicateKid and DuplicateMember
// target).
func (p *pool) refreshForged() error {
	first, err := firstKid(p.ba.JWKSURL())
	if err != nil {
		return err
	}
	attackerKid, attacker := p.fj.AttackerKey()
	weakKid, weak := p.fj.WeakRSAKey()
	var at, col, wk []token
	for i := range 4 {
		t, err := forge(jwt.SigningMethodEdDSA, attackerKid, attacker, p.ba.URL, fmt.Sprintf("attacker-%d", i))
		if err != nil {
			return err
		}
		at = append(at, t)
		if t, err = forge(jwt.SigningMethodEdDSA, first, attacker, p.ba.URL, fmt.Sprintf("collision-%d", i)); err != nil {
			return err
		}
		col = append(col, t)
		if t, err = forge(jwt.SigningMethodRS256, weakKid, weak, p.ba.URL, fmt.Sprintf("weak-rsa-%d", i)); err != nil {
			return err
		}
		wk = append(wk, t)
	}
	p.mu.Lock()
	p.attacker, p.collision, p.weakRSA, p.first = at, col, wk, first
	p.mu.Unlock()
	return nil
}

// firstKid is the first kid of Better Auth's JWKS: the one DuplicateKid lists twice.
func (p *pool) firstKid() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.first
}

// pick returns a token of kind k, or false when there is none right now.
func (p *pool) pick(rng *mrand.Rand, k kind) (token, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	one := func(ts []token) (token, bool) {
		if len(ts) == 0 {
			return token{}, false
		}
		return ts[rng.IntN(len(ts))], true
	}
	g := p.gens[rng.IntN(len(p.gens))]
	switch k {
	case kindValid:
		return one(g.valid)
	case kindRotated:
		return one(p.gens[len(p.gens)-1].valid)
	case kindExpired:
		return one(g.expired)
	case kindTampered:
		return one(g.tampered)
	case kindBogus:
		t, ok := one(g.valid)
		kid := p.bogusKids[rng.IntN(len(p.bogusKids))]
		return token{raw: withKid(t.raw, kid), sub: t.sub}, ok
	case kindAttacker:
		return one(p.attacker)
	case kindCollision:
		return one(p.collision)
	case kindWeakRSA:
		return one(p.weakRSA)
	}
	return token{}, false
}

// freshBogus is a valid token's payload and signature under a kid never seen before: each
// makes betterauthz fetch the JWKS (at most once a second), so faults are met by fetches.
func (p *pool) freshBogus(rng *mrand.Rand) (token, bool) {
	t, ok := p.pick(rng, kindValid)
	return token{raw: withKid(t.raw, randomKid("fresh-bogus")), sub: t.sub}, ok
}

func parseToken(raw string) (token, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return token{}, errors.New("the token Better Auth returned is not a JWT")
	}
	var h struct {
		Kid string `json:"kid"`
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if err := decodeSegment(parts[0], &h); err != nil {
		return token{}, err
	}
	if err := decodeSegment(parts[1], &c); err != nil {
		return token{}, err
	}
	if h.Kid == "" || c.Sub == "" {
		return token{}, errors.New("a token from Better Auth without kid or sub")
	}
	return token{raw: raw, kid: h.Kid, sub: c.Sub}, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("token segment: %w", err)
	}
	return json.Unmarshal(b, v)
}

// tamper changes the payload (its subject) and keeps the header and signature: well formed,
// a known kid, a signature that no longer matches.
func tamper(t token) token {
	parts := strings.Split(t.raw, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if json.Unmarshal(payload, &claims) != nil {
		return t
	}
	claims["sub"], claims["id"] = "someone-else", "someone-else"
	b, _ := json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return token{raw: strings.Join(parts, "."), kid: t.kid, sub: "someone-else"}
}

// withKid replaces a token's header by Better Auth's shape, {"alg","kid"}, with kid.
func withKid(raw, kid string) string {
	i := strings.IndexByte(raw, '.')
	if i < 0 {
		return raw
	}
	h, _ := json.Marshal(map[string]string{"alg": "EdDSA", "kid": kid})
	return base64.RawURLEncoding.EncodeToString(h) + raw[i:]
}

func randomKid(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// forge signs a token with Better Auth's claims (iss = aud = its origin) with a key Better Auth
// never had, and a header shaped like Better Auth's.
func forge(method jwt.SigningMethod, kid string, key any, issuer, sub string) (token, error) {
	now := time.Now()
	t := jwt.NewWithClaims(method, jwt.MapClaims{
		"sub": sub, "id": sub, "email": sub + "@example.com", "name": "Forged", "emailVerified": true,
		"iss": issuer, "aud": issuer, "iat": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(),
	})
	t.Header = map[string]any{"alg": method.Alg(), "kid": kid}
	raw, err := t.SignedString(key)
	if err != nil {
		return token{}, fmt.Errorf("forge %s token: %w", method.Alg(), err)
	}
	return token{raw: raw, kid: kid, sub: sub}, nil
}

// firstKid is the first kid of Better Auth's JWKS, read directly (not through the fault server).
func firstKid(jwksURL string) (string, error) {
	resp, err := http.Get(jwksURL)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var doc struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return "", fmt.Errorf("the Better Auth JWKS: %w", err)
	}
	if len(doc.Keys) == 0 {
		return "", errors.New("the Better Auth JWKS has no keys")
	}
	return doc.Keys[0].Kid, nil
}
