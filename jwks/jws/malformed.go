package jws

import (
	"fmt"
	"strings"

	"github.com/betterauthz/betterauthz/jwks/internal/strictjson"
)

// Malformed says, for a person to read, which part of a token Parse refuses is wrong and how;
// it wraps ErrMalformed and never quotes the token.
func Malformed(token string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	segs := strings.Split(token, ".")
	if len(segs) != 3 {
		return bad("%d parts separated by dots; a JWT has 3 (header.claims.signature)", len(segs))
	}
	names := [3]string{"the header (first part)", "the claims (second part)", "the signature (third part)"}
	for i, s := range segs {
		switch {
		case s == "" && i < 2:
			return bad("%s is empty", names[i])
		case strings.ContainsAny(s, " \t\r\n"):
			return bad("%s contains spaces or line breaks: copy the token in one piece", names[i])
		case strings.Contains(s, "="):
			return bad("%s has = padding, which JWTs leave out", names[i])
		case strings.ContainsAny(s, "+/"):
			return bad("%s has + or /: it is base64, and JWTs use base64url (- and _)", names[i])
		case !isBase64URL(s):
			return bad("%s has characters outside base64url (A-Z, a-z, 0-9, - and _)", names[i])
		}
		if _, err := strictBase64.DecodeString(s); err != nil {
			return bad("%s is not canonical base64url (its length or last character is off)", names[i])
		}
	}
	b, _ := strictBase64.DecodeString(segs[0])
	if err := strictjson.Check(b, true); err != nil {
		return bad("the header (first part) is not one JSON object with distinct member names: %v", err)
	}
	return bad("alg, kid or typ in the header is not a string")
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
