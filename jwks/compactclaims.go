package jwks

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"unsafe"
)

// CompactClaims are verified claims as the verified-token cache keeps them: the claims' JSON
// with an index of its top-level members, read on demand. They hold a fraction of the memory of
// the decoded Claims, and reading a string, number or boolean claim allocates nothing. Whatever
// a config asks of them later — any claim path, for identity headers or rules — they answer as
// the decoded Claims would. Immutable, and safe for concurrent use.
type CompactClaims struct {
	// data is the claims' JSON object (its first jsonLen bytes), then the decoded text of the
	// top-level names and string values that have escapes.
	data    string
	jsonLen int
	members []member
}

// member locates a top-level member in data: its name (decoded), and its value — a string's
// decoded text when valLen has stringFlag, the value's JSON otherwise.
type member struct{ nameOff, nameLen, valOff, valLen uint16 }

const (
	stringFlag = 1 << 15
	// maxCompact bounds data so that every offset fits a member. Claims of a token never come
	// near it (a token is at most DefaultMaxTokenBytes); larger ones stay decoded.
	maxCompact = stringFlag - 1
)

// compactClaimsSize is the memory of a CompactClaims itself, for the cache's accounting.
const compactClaimsSize = int(unsafe.Sizeof(CompactClaims{}))

// newCompactClaims indexes one JSON object that checkObject has accepted (so: valid, and no
// name twice). ok is false when it is too large to index.
func newCompactClaims(obj []byte) (_ *CompactClaims, ok bool) {
	if len(obj) > maxCompact {
		return nil, false
	}
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
	s := scanner{data: obj}
	s.skipSpace()
	s.pos++ // '{'
	for {
		s.skipSpace()
		if s.peek() == '}' {
			break
		}
		if s.peek() == ',' {
			s.pos++
			s.skipSpace()
		}
		nameStart := s.pos
		s.skipString()
		no, nn := at(obj[nameStart:s.pos], nameStart)
		s.skipSpace()
		s.pos++ // ':'
		s.skipSpace()
		valStart := s.pos
		_ = s.value(false) // valid JSON: skipping cannot fail
		vo, vn := valStart, s.pos-valStart
		if obj[valStart] == '"' {
			vo, vn = at(obj[valStart:s.pos], valStart)
			vn |= stringFlag
		}
		members = append(members, member{uint16(no), uint16(nn), uint16(vo), uint16(vn)})
	}
	if len(obj)+len(extra) > maxCompact {
		return nil, false
	}
	data := make([]byte, 0, len(obj)+len(extra))
	data = append(append(data, obj...), extra...)
	return &CompactClaims{
		data:    unsafe.String(unsafe.SliceData(data), len(data)), // data is never written again
		jsonLen: len(obj),
		members: slices.Clone(members),
	}, true
}

// compactOf is the form the cache keeps claims in: compact, unless they are too large to index.
func compactOf(c Claims) (ClaimReader, error) {
	if c == nil {
		return nil, ErrMalformed // a Transform that returned no claims
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any(c)); err != nil {
		return nil, err
	}
	if cc, ok := newCompactClaims(bytes.TrimSuffix(b.Bytes(), []byte("\n"))); ok {
		return cc, nil
	}
	return c, nil
}

// size is the memory the claims hold, for the cache's accounting.
func (c *CompactClaims) size() int {
	return compactClaimsSize + len(c.data) + cap(c.members)*int(unsafe.Sizeof(member{}))
}

// top finds a top-level member by name.
func (c *CompactClaims) top(name string) (Value, bool) {
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

// Claim implements ClaimReader: as Claims.Lookup, on the JSON.
func (c *CompactClaims) Claim(path string) (Value, bool) {
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

// Subject implements ClaimReader.
func (c *CompactClaims) Subject() string {
	if v, ok := c.top("sub"); ok && v.kind == KindString {
		return v.text
	}
	return ""
}

// Claims decodes the claims.
func (c *CompactClaims) Claims() Claims {
	m, _ := decodeJSON(bytesOf(c.data[:c.jsonLen])).(map[string]any)
	return m
}

// objectMember finds a member of a JSON object (valid, no name twice) by its decoded name.
func objectMember(obj, name string) (Value, bool) {
	s := scanner{data: bytesOf(obj), pos: 1}
	for {
		s.skipSpace()
		if s.peek() == '}' {
			return Value{}, false
		}
		if s.peek() == ',' {
			s.pos++
			s.skipSpace()
		}
		nameStart := s.pos
		s.skipString()
		found := unquote(obj[nameStart:s.pos]) == name
		s.skipSpace()
		s.pos++ // ':'
		s.skipSpace()
		valStart := s.pos
		_ = s.value(false)
		if found {
			return rawValue(obj[valStart:s.pos]), true
		}
	}
}

// bytesOf reads a string's bytes in place, for functions that only read them.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
