package jwks

import (
	"encoding/json"
	"strings"
)

// Claims are a verified token's payload. Numbers are json.Number so that large integers and
// decimals render exactly as the issuer wrote them.
type Claims map[string]any

// Lookup finds a claim by name, or by a dotted path into nested objects ("org.id") when no
// top-level claim has the full name. The top-level name wins so that claims whose names contain
// dots (URLs, namespaced claims) stay reachable.
func (c Claims) Lookup(path string) (any, bool) {
	if v, ok := c[path]; ok {
		return v, true
	}
	var cur any = map[string]any(c)
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// Claim implements ClaimReader (see Lookup).
func (c Claims) Claim(path string) (Value, bool) {
	v, ok := c.Lookup(path)
	if !ok {
		return Value{}, false
	}
	return valueOf(v), true
}

// Subject returns the sub claim, or "" when it is absent or not a string.
func (c Claims) Subject() string {
	s, _ := c["sub"].(string)
	return s
}

// String renders a claim value the way it travels in an HTTP header: strings as they are,
// numbers and booleans in their JSON form, lists of scalars joined with commas, objects as
// compact JSON. ok is false for null and absent values.
func String(v any) (s string, ok bool) {
	switch t := v.(type) {
	case nil:
		return "", false
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case bool:
		if t {
			return "true", true
		}
		return "false", true
	case []any:
		parts := make([]string, 0, len(t))
		for _, e := range t {
			switch e.(type) {
			case map[string]any, []any:
				return compactJSON(v)
			}
			if p, ok := String(e); ok {
				parts = append(parts, p)
			}
		}
		return strings.Join(parts, ","), true
	default:
		return compactJSON(v)
	}
}

func compactJSON(v any) (string, bool) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(b), true
}
