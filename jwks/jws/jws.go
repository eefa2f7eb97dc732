// Package jws reads a JSON Web Signature in compact serialization strictly and checks its
// signature with golang-jwt/v5's signing methods, for the algorithms Better Auth signs with.
// Anything another parser might read differently is refused: the strictness buys security.
package jws

import (
	"encoding/base64"
	"errors"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/betterauthz/betterauthz/jwks/internal/strictjson"
)

// Why a token is refused. Their text is safe to show a client: it never contains any part of
// the token.
var (
	ErrMalformed   = errors.New("malformed token")
	ErrKeyMismatch = errors.New("signing algorithm does not match the key")
	ErrSignature   = errors.New("signature invalid")
)

// JWS is a JWS in compact serialization (RFC 7515 §7.1), read strictly: three segments of
// unpadded base64url in canonical form (no padding, no line breaks, no stray bits in the last
// character), a header that is one JSON object with distinct member names, and a payload that
// is not read here (the claims are: package claims). Better Auth's tokens always read this
// way; anything else is a token some other parser might read differently, and is refused.
type JWS struct {
	Header Header
	// Payload is the decoded claims JSON, unchecked.
	Payload []byte

	signingInput string // header.payload, as signed
	signature    []byte
}

// Header holds the protected header parameters a verifier acts on.
type Header struct {
	Alg, Kid, Typ string
	// Crit: the header lists extensions the recipient must understand (RFC 7515 §4.1.11).
	// Nothing here understands any, so any crit — even an empty list — makes the token
	// unacceptable.
	Crit bool
}

// strictBase64 decodes canonical unpadded base64url only: Strict refuses non-zero padding bits,
// and the decoder refuses "=", "+", "/" and every other byte outside the alphabet — but for the
// line breaks it skips, which decodeSegment refuses.
var strictBase64 = base64.RawURLEncoding.Strict()

// decodeSegment decodes one segment of a token into dst (at least DecodedLen long).
func decodeSegment(dst []byte, s string) (int, error) {
	// Two vectorized scans: a third of the cost of checking each byte against the alphabet.
	if strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0 {
		return 0, ErrMalformed
	}
	// Decode only reads src: reading the string's bytes in place saves a copy.
	n, err := strictBase64.Decode(dst, strictjson.BytesOf(s))
	if err != nil {
		return 0, ErrMalformed
	}
	return n, nil
}

// Parse splits and decodes a token. The caller has checked there are exactly two dots.
func Parse(token string) (JWS, error) {
	first := strings.IndexByte(token, '.')
	last := strings.LastIndexByte(token, '.')
	segs := [3]string{token[:first], token[first+1 : last], token[last+1:]}
	total := 0
	for _, s := range segs {
		total += strictBase64.DecodedLen(len(s))
	}
	if segs[0] == "" || segs[1] == "" {
		return JWS{}, ErrMalformed
	}
	// One buffer for all three segments.
	buf := make([]byte, total)
	var dec [3][]byte
	off := 0
	for i, s := range segs {
		n, err := decodeSegment(buf[off:], s)
		if err != nil {
			return JWS{}, err
		}
		dec[i] = buf[off : off+n : off+n]
		off += n
	}
	t := JWS{signingInput: token[:last], Payload: dec[1], signature: dec[2]}
	var err error
	if t.Header, err = parseHeader(dec[0]); err != nil {
		return JWS{}, err
	}
	return t, nil
}

// parseHeader reads the protected header. alg, kid and typ must be strings when present.
func parseHeader(b []byte) (Header, error) {
	var h Header
	err := strictjson.Walk(b, true, func(name, value []byte) error {
		var dst *string
		switch string(name) {
		case "alg":
			dst = &h.Alg
		case "kid":
			dst = &h.Kid
		case "typ":
			dst = &h.Typ
		case "crit":
			h.Crit = true
			return nil
		default:
			return nil
		}
		s, ok := strictjson.String(value)
		if !ok {
			return ErrMalformed
		}
		*dst = s
		return nil
	})
	if err != nil {
		return h, ErrMalformed
	}
	return h, nil
}

// Better Auth signs its session-cache cookie with the same keys as access tokens; these mark it.
const (
	SessionCacheType     = "better-auth.session-cache+jwt"
	SessionCacheAudience = "better-auth:session-cache"
)

// IsSessionCacheType reports whether typ marks Better Auth's session-cache cookie JWT; per RFC
// 7515 §4.1.9 the "application/" prefix may be left out, and the comparison ignores case.
func IsSessionCacheType(typ string) bool {
	typ = strings.ToLower(typ)
	return strings.TrimPrefix(typ, "application/") == SessionCacheType
}

// AccessTokenType marks an OAuth 2.0 JWT access token (RFC 9068 §2.1), as Better Auth's OAuth
// provider signs them.
const AccessTokenType = "at+jwt"

// IsAccessTokenType reports whether typ marks an RFC 9068 access token; per RFC 7515 §4.1.9
// the "application/" prefix may be left out, and the comparison ignores case.
func IsAccessTokenType(typ string) bool {
	typ = strings.ToLower(typ)
	return strings.TrimPrefix(typ, "application/") == AccessTokenType
}

// maxHeaderSegment bounds the header segment PeekType decodes: Better Auth's are under 100
// bytes.
const maxHeaderSegment = 1 << 10

// PeekAccessToken reports whether a compact JWS's header says it is an OAuth access token
// (IsAccessTokenType of its typ), checking nothing else: PeekType's answer, remembered for the
// header segments seen last (peeks), so that a check with a known segment decodes nothing and
// allocates nothing. ok is false when the token has no readable header.
func PeekAccessToken(token string) (accessToken, ok bool) {
	first := strings.IndexByte(token, '.')
	if first <= 0 || first > maxHeaderSegment {
		return false, false
	}
	segment := token[:first]
	slot := &peeks[maphash.String(peekSeed, segment)%uint64(len(peeks))]
	if p := slot.Load(); p != nil && p.segment == segment {
		return p.accessToken, p.ok
	}
	accessToken, ok = peekSegment(segment)
	if ok {
		// A copy: the token may live in memory its caller reuses (a CheckRequest's bytes). An
		// unreadable header is not remembered: it would only push a signing key's out.
		slot.Store(&peeked{segment: strings.Clone(segment), accessToken: accessToken, ok: ok})
	}
	return accessToken, ok
}

// peeks remember PeekAccessToken's answers for the header segments seen last. Every token
// signed with one key has the same header segment, so a handful of entries answers nearly
// every check without decoding: a hash and a comparison. The answer is a function of the
// segment alone; a slot holds the last segment that hashed to it, so the memory is bounded
// whatever tokens come.
var (
	peeks    [64]atomic.Pointer[peeked]
	peekSeed = maphash.MakeSeed()
)

type peeked struct {
	segment         string
	accessToken, ok bool
}

// peekSegment is PeekAccessToken for a header segment, decoded and read.
func peekSegment(segment string) (accessToken, ok bool) {
	arr := headerBufs.Get().(*[maxHeaderSegment * 3 / 4]byte)
	defer headerBufs.Put(arr)
	buf := arr[:strictBase64.DecodedLen(len(segment))]
	n, err := decodeSegment(buf, segment)
	if err != nil {
		return false, false
	}
	err = strictjson.Walk(buf[:n], true, func(name, value []byte) error {
		switch string(name) {
		case "typ":
			if v, plain := plainASCII(value); plain {
				accessToken = asciiAccessTokenType(v)
				return nil
			}
			typ, ok := strictjson.String(value)
			if !ok {
				return ErrMalformed
			}
			accessToken = IsAccessTokenType(typ)
		case "alg", "kid":
			// As parseHeader: a member it reads must be a string.
			if _, plain := plainASCII(value); !plain {
				if _, ok := strictjson.String(value); !ok {
					return ErrMalformed
				}
			}
		}
		return nil
	})
	if err != nil {
		return false, false
	}
	return accessToken, true
}

// headerBufs hold decoded headers for PeekAccessToken: the JSON walk lets them escape, and a
// check must not allocate.
var headerBufs = sync.Pool{New: func() any { return new([maxHeaderSegment * 3 / 4]byte) }}

// plainASCII returns a JSON string's contents when it is ASCII without escapes.
func plainASCII(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	v := raw[1 : len(raw)-1]
	for _, c := range v {
		if c == '\\' || c >= 0x80 {
			return nil, false
		}
	}
	return v, true
}

// asciiAccessTokenType is IsAccessTokenType for an ASCII typ.
func asciiAccessTokenType(v []byte) bool {
	const prefix = "application/"
	if len(v) >= len(prefix) && asciiEqualFold(v[:len(prefix)], prefix) {
		v = v[len(prefix):]
	}
	return asciiEqualFold(v, AccessTokenType)
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// PeekType reads the typ of a compact JWS's header without checking anything else: which
// verifier a token goes to is chosen by it, before any verification. ok is false when the
// token has no readable header (the verifier then refuses it).
func PeekType(token string) (typ string, ok bool) {
	first := strings.IndexByte(token, '.')
	if first <= 0 || first > maxHeaderSegment {
		return "", false
	}
	buf := make([]byte, strictBase64.DecodedLen(first))
	n, err := decodeSegment(buf, token[:first])
	if err != nil {
		return "", false
	}
	h, err := parseHeader(buf[:n])
	if err != nil {
		return "", false
	}
	return h.Typ, true
}
