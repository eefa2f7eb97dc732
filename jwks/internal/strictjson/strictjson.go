// Package strictjson reads JSON as JOSE needs it (RFC 7515 §4, RFC 8259): exactly one object,
// nothing after it, UTF-8, and no member name twice. encoding/json alone accepts a second
// object after the first when read with a Decoder (golang-jwt reads tokens that way) and keeps
// the last of two equal names, while other parsers keep the first: {"sub":"a","sub":"b"} would
// then name two users. Token headers, JWKS documents and claims are all read through it.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
	"unsafe"
)

// Why a document is refused.
var (
	ErrNotObject     = errors.New("not a JSON object")
	ErrInvalidJSON   = errors.New("not valid JSON (or not one value)")
	ErrInvalidUTF8   = errors.New("not valid UTF-8")
	ErrDuplicateName = errors.New("a member name appears twice")
)

// Check reports whether data is exactly one valid JSON object with no duplicate member names.
// With nested, objects inside it are held to the same rule.
func Check(data []byte, nested bool) error { return Walk(data, nested, nil) }

// MemberFunc receives each member of the top-level object: its decoded name and raw value.
type MemberFunc func(name, value []byte) error

// Walk checks data as Check does (nested or not) and calls member for each top-level member.
func Walk(data []byte, nested bool, member MemberFunc) error {
	if !utf8.Valid(data) {
		return ErrInvalidUTF8
	}
	if !json.Valid(data) {
		return ErrInvalidJSON
	}
	s := Scanner{data: data}
	s.SkipSpace()
	if s.Peek() != '{' {
		return ErrNotObject
	}
	return s.object(nested, member)
}

// Scanner walks JSON that json.Valid has accepted, so it needs no error handling for syntax.
type Scanner struct {
	data []byte
	pos  int
}

// NewScanner reads valid JSON from pos.
func NewScanner(data []byte, pos int) Scanner { return Scanner{data: data, pos: pos} }

// Pos is where the scanner is.
func (s *Scanner) Pos() int { return s.pos }

// Advance moves past n bytes (a ':' or ',' the caller has seen).
func (s *Scanner) Advance(n int) { s.pos += n }

// Peek is the byte at the scanner's position.
func (s *Scanner) Peek() byte { return s.data[s.pos] }

// SkipSpace moves past whitespace.
func (s *Scanner) SkipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

// object walks an object starting at '{'. Names are compared decoded ("\u0073ub" is "sub").
func (s *Scanner) object(nested bool, member MemberFunc) error {
	s.pos++ // '{'
	// Objects are small (a token header, a JWK, claims): a linear search over their names until
	// there are many, then a map, so that a forged token with thousands of members costs linear
	// time, not quadratic.
	var namesBuf [16][]byte
	names := namesBuf[:0]
	var many map[string]struct{}
	for {
		s.SkipSpace()
		if s.Peek() == '}' {
			s.pos++
			return nil
		}
		if s.Peek() == ',' {
			s.pos++
			s.SkipSpace()
		}
		name, err := s.name()
		if err != nil {
			return err
		}
		if many == nil {
			for _, n := range names {
				if bytes.Equal(n, name) {
					return ErrDuplicateName
				}
			}
			names = append(names, name)
			if len(names) > 32 {
				many = make(map[string]struct{}, 2*len(names))
				for _, n := range names {
					many[string(n)] = struct{}{}
				}
			}
		} else {
			if _, dup := many[string(name)]; dup {
				return ErrDuplicateName
			}
			many[string(name)] = struct{}{}
		}
		s.SkipSpace()
		s.pos++ // ':'
		s.SkipSpace()
		start := s.pos
		if err := s.value(nested); err != nil {
			return err
		}
		if member != nil {
			if err := member(name, s.data[start:s.pos]); err != nil {
				return err
			}
		}
	}
}

// name reads a member name, decoding escapes only when there are any.
func (s *Scanner) name() ([]byte, error) {
	start := s.pos
	s.SkipString()
	raw := s.data[start:s.pos]
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1], nil
	}
	var decoded string
	if err := json.Unmarshal(raw, &decoded); err != nil {
		return nil, ErrInvalidJSON
	}
	return []byte(decoded), nil
}

// SkipString moves past a string starting at its opening quote.
func (s *Scanner) SkipString() {
	s.pos++ // opening quote
	for {
		switch s.data[s.pos] {
		case '\\':
			s.pos += 2
		case '"':
			s.pos++
			return
		default:
			s.pos++
		}
	}
}

// SkipValue moves past one value without looking inside objects and arrays.
func (s *Scanner) SkipValue() { _ = s.value(false) } // valid JSON: skipping cannot fail

// value skips one value; nested objects are checked when nested is set.
func (s *Scanner) value(nested bool) error {
	switch s.Peek() {
	case '"':
		s.SkipString()
	case '{':
		if !nested {
			s.skipComposite()
			return nil
		}
		return s.object(true, nil)
	case '[':
		if !nested {
			s.skipComposite()
			return nil
		}
		s.pos++
		for {
			s.SkipSpace()
			switch s.Peek() {
			case ']':
				s.pos++
				return nil
			case ',':
				s.pos++
				s.SkipSpace()
			}
			if err := s.value(true); err != nil {
				return err
			}
		}
	default: // number, true, false, null
		for s.pos < len(s.data) {
			switch s.data[s.pos] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return nil
			}
			s.pos++
		}
	}
	return nil
}

// skipComposite skips an object or array without looking inside.
func (s *Scanner) skipComposite() {
	depth := 0
	for {
		switch s.data[s.pos] {
		case '"':
			s.SkipString()
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
		s.pos++
		if depth == 0 {
			return
		}
	}
}

// String reads a raw JSON value that must be a string.
func String(raw []byte) (string, bool) {
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

// Unquote decodes a valid JSON string, without allocating when it has no escapes.
func Unquote(raw string) string {
	inner := raw[1 : len(raw)-1]
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\\' {
			var s string
			_ = json.Unmarshal(BytesOf(raw), &s)
			return s
		}
	}
	return inner
}

// BytesOf reads a string's bytes in place, for functions that only read them.
func BytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
