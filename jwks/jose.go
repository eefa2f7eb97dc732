package jwks

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// jws is a JWS in compact serialization (RFC 7515 §7.1), read strictly: three segments of
// unpadded base64url in canonical form (no padding, no line breaks, no stray bits in the last
// character), a header and a payload that are each one JSON object with distinct member names,
// and no critical extensions. Better Auth's tokens always read this way; anything else is a
// token some other parser might read differently, and is refused.
type jws struct {
	signingInput string // header.payload, as signed
	header       joseHeader
	payload      []byte // decoded claims JSON
	signature    []byte
}

// joseHeader holds the header parameters a verifier acts on.
type joseHeader struct {
	alg, kid, typ string
	// crit lists extensions the recipient must understand (RFC 7515 §4.1.11). This verifier
	// understands none, so any crit — even an empty list — makes the token unacceptable.
	crit bool
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
	n, err := strictBase64.Decode(dst, bytesOf(s))
	if err != nil {
		return 0, ErrMalformed
	}
	return n, nil
}

// parseCompact splits and decodes a token. The caller has checked there are exactly two dots.
func parseCompact(token string) (jws, error) {
	first := strings.IndexByte(token, '.')
	last := strings.LastIndexByte(token, '.')
	segs := [3]string{token[:first], token[first+1 : last], token[last+1:]}
	total := 0
	for _, s := range segs {
		total += strictBase64.DecodedLen(len(s))
	}
	if segs[0] == "" || segs[1] == "" {
		return jws{}, ErrMalformed
	}
	// One buffer for all three segments.
	buf := make([]byte, total)
	var dec [3][]byte
	off := 0
	for i, s := range segs {
		n, err := decodeSegment(buf[off:], s)
		if err != nil {
			return jws{}, err
		}
		dec[i] = buf[off : off+n : off+n]
		off += n
	}
	c := jws{signingInput: token[:last], payload: dec[1], signature: dec[2]}
	var err error
	if c.header, err = parseHeader(dec[0]); err != nil {
		return jws{}, err
	}
	return c, nil
}

// parseHeader reads the protected header. alg, kid and typ must be strings when present.
func parseHeader(b []byte) (joseHeader, error) {
	var h joseHeader
	err := walkObject(b, true, func(name, value []byte) error {
		var dst *string
		switch string(name) {
		case "alg":
			dst = &h.alg
		case "kid":
			dst = &h.kid
		case "typ":
			dst = &h.typ
		case "crit":
			h.crit = true
			return nil
		default:
			return nil
		}
		s, ok := jsonString(value)
		if !ok {
			return ErrMalformed
		}
		*dst = s
		return nil
	})
	if err != nil {
		if err == ErrMalformed {
			return h, err
		}
		return h, ErrMalformed
	}
	return h, nil
}

// jsonString decodes a raw JSON value that must be a string.
func jsonString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// parseClaims reads the payload: one JSON object, no member name twice at any depth. The
// claims are compact (see CompactClaims), or decoded when too large for that, with numbers as
// json.Number so that they render exactly as the issuer wrote them.
func parseClaims(b []byte) (ClaimReader, error) {
	if err := checkObject(b, true); err != nil {
		return nil, ErrMalformed
	}
	if c, ok := newCompactClaims(b); ok {
		return c, nil
	}
	claims, ok := decodeJSON(b).(map[string]any)
	if !ok {
		return nil, ErrMalformed
	}
	return Claims(claims), nil
}

// isSessionCacheType reports whether typ marks Better Auth's session-cache cookie JWT; per RFC
// 7515 §4.1.9 the "application/" prefix may be left out, and the comparison ignores case.
func isSessionCacheType(typ string) bool {
	typ = strings.ToLower(typ)
	return strings.TrimPrefix(typ, "application/") == SessionCacheType
}
