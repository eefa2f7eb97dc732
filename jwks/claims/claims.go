// Package claims holds verified claims — the one form they take, from the token to the
// decision — and the cache of verified tokens that keeps them.
//
// Claims are kept compact: their JSON and an index of its top-level members, read on demand.
// Reading a string, number or boolean claim, top level or nested, allocates nothing, and a
// cached token holds a fraction of the memory of the decoded map; whatever a config asks of
// them later — any claim path, for identity headers or rules — they answer as the decoded JSON
// would (FuzzCompactClaims compares the two).
package claims

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"unsafe"

	"github.com/betterauthz/betterauthz/jwks/internal/strictjson"
)

// Claims are verified claims: a JSON object (at most one member of each name, at any depth)
// with an index of its top-level members. The zero value holds no claims (no credential).
// Immutable, and safe for concurrent use; copies share their memory.
type Claims struct {
	// data is the claims' JSON object (its first jsonLen bytes), then the decoded text of the
	// top-level names and string values that have escapes.
	data    string
	jsonLen int
	members []member
}

// member locates a top-level member in data: its name (decoded), and its value — a string's
// decoded text when str is set, the value's JSON otherwise.
type member struct {
	nameOff, nameLen, valOff uint32
	valLen                   uint32 // with stringFlag
}

const stringFlag = 1 << 31

// ErrNotObject refuses claims that are not one JSON object with distinct member names.
var ErrNotObject = errors.New("claims are not one JSON object with distinct member names")

// Parse reads claims: one JSON object, no member name twice at any depth (see strictjson).
func Parse(obj []byte) (Claims, error) {
	if strictjson.Check(obj, true) != nil {
		return Claims{}, ErrNotObject
	}
	return index(obj), nil
}

// FromMap makes claims of decoded JSON (a Transform's view of them, a session lookup's answer).
func FromMap(m map[string]any) (Claims, error) {
	if m == nil {
		return Claims{}, ErrNotObject
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return Claims{}, err
	}
	return index(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}

// UnmarshalJSON reads claims from JSON as Parse does.
func (c *Claims) UnmarshalJSON(data []byte) error {
	parsed, err := Parse(data) // index copies what it keeps
	if err != nil {
		return err
	}
	*c = parsed
	return nil
}

// index indexes one JSON object that strictjson has accepted (so: valid, and no name twice).
func index(obj []byte) Claims {
	var buf [32]member
	members := buf[:0]
	var extra []byte // decoded names and strings that had escapes
	// at locates a name or string value: in obj, or decoded into extra when it has escapes.
	at := func(raw []byte, off int) (o, n int) {
		if bytes.IndexByte(raw, '\\') < 0 {
			return off + 1, len(raw) - 2
		}
		var s string
		_ = json.Unmarshal(raw, &s) // valid JSON
		o = len(obj) + len(extra)
		extra = append(extra, s...)
		return o, len(s)
	}
	s := strictjson.NewScanner(obj, 0)
	s.SkipSpace()
	s.Advance(1) // '{'
	for {
		s.SkipSpace()
		if s.Peek() == '}' {
			break
		}
		if s.Peek() == ',' {
			s.Advance(1)
			s.SkipSpace()
		}
		nameStart := s.Pos()
		s.SkipString()
		no, nn := at(obj[nameStart:s.Pos()], nameStart)
		s.SkipSpace()
		s.Advance(1) // ':'
		s.SkipSpace()
		valStart := s.Pos()
		s.SkipValue()
		vo, vn := valStart, s.Pos()-valStart
		if obj[valStart] == '"' {
			vo, vn = at(obj[valStart:s.Pos()], valStart)
			vn |= stringFlag
		}
		members = append(members, member{uint32(no), uint32(nn), uint32(vo), uint32(vn)})
	}
	data := make([]byte, 0, len(obj)+len(extra))
	data = append(append(data, obj...), extra...)
	return Claims{
		data:    unsafe.String(unsafe.SliceData(data), len(data)), // data is never written again
		jsonLen: len(obj),
		members: slices.Clone(members),
	}
}

// IsZero reports whether c holds no claims.
func (c Claims) IsZero() bool { return c.jsonLen == 0 }

// claimsSize is the memory of a Claims itself, for the cache's accounting.
const claimsSize = int(unsafe.Sizeof(Claims{}))

// Size is the memory the claims hold, for the cache's accounting.
func (c Claims) Size() int {
	return claimsSize + len(c.data) + cap(c.members)*int(unsafe.Sizeof(member{}))
}

// top finds a top-level member by name.
func (c Claims) top(name string) (Value, bool) {
	for _, m := range c.members {
		if int(m.nameLen) != len(name) || c.data[m.nameOff:m.nameOff+m.nameLen] != name {
			continue
		}
		n := m.valLen &^ stringFlag
		text := c.data[m.valOff : m.valOff+n]
		if m.valLen&stringFlag != 0 {
			return Value{kind: KindString, text: text}, true
		}
		return rawValue(text), true
	}
	return Value{}, false
}

// Claim finds a claim by name, or by a dotted path into nested objects ("org.id") when no
// top-level claim has the full name. The top-level name wins so that claims whose names contain
// dots (URLs, namespaced claims) stay reachable.
func (c Claims) Claim(path string) (Value, bool) {
	if v, ok := c.top(path); ok {
		return v, true
	}
	part, rest, more := strings.Cut(path, ".")
	cur, ok := c.top(part)
	for ok && more {
		if cur.kind != KindObject {
			return Value{}, false
		}
		part, rest, more = strings.Cut(rest, ".")
		cur, ok = objectMember(cur.text, part)
	}
	return cur, ok
}

// Lookup is Claim's value decoded, as encoding/json decodes it with UseNumber.
func (c Claims) Lookup(path string) (any, bool) {
	v, ok := c.Claim(path)
	if !ok {
		return nil, false
	}
	return v.Any(), true
}

// Subject is the sub claim, or "" when it is absent or not a string.
func (c Claims) Subject() string {
	if v, ok := c.top("sub"); ok && v.kind == KindString {
		return v.text
	}
	return ""
}

// StringClaim is a claim that is a string, "" when it is absent or not a string.
func (c Claims) StringClaim(name string) string {
	if v, ok := c.Claim(name); ok && v.kind == KindString {
		return v.text
	}
	return ""
}

// Map decodes the claims (numbers as json.Number), for those that show or transform them.
func (c Claims) Map() map[string]any {
	if c.IsZero() {
		return nil
	}
	m, _ := decodeJSON(strictjson.BytesOf(c.data[:c.jsonLen])).(map[string]any)
	return m
}

// objectMember finds a member of a JSON object (valid, no name twice) by its decoded name.
func objectMember(obj, name string) (Value, bool) {
	s := strictjson.NewScanner(strictjson.BytesOf(obj), 1)
	for {
		s.SkipSpace()
		if s.Peek() == '}' {
			return Value{}, false
		}
		if s.Peek() == ',' {
			s.Advance(1)
			s.SkipSpace()
		}
		nameStart := s.Pos()
		s.SkipString()
		found := strictjson.Unquote(obj[nameStart:s.Pos()]) == name
		s.SkipSpace()
		s.Advance(1) // ':'
		s.SkipSpace()
		valStart := s.Pos()
		s.SkipValue()
		if found {
			return rawValue(obj[valStart:s.Pos()]), true
		}
	}
}
