package jwks

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// JSON as JOSE needs it (RFC 7515 §4, RFC 8259): exactly one object, nothing after it, UTF-8,
// and no member name twice. encoding/json alone accepts a second object after the first when
// read with a Decoder (golang-jwt reads tokens that way) and keeps the last of two equal names,
// while other parsers keep the first: {"sub":"a","sub":"b"} would then name two users.

var (
	errNotObject     = errors.New("not a JSON object")
	errInvalidJSON   = errors.New("not valid JSON (or not one value)")
	errInvalidUTF8   = errors.New("not valid UTF-8")
	errDuplicateName = errors.New("a member name appears twice")
)

// checkObject reports whether data is exactly one valid JSON object with no duplicate member
// names. With nested, objects inside it are held to the same rule.
func checkObject(data []byte, nested bool) error { return walkObject(data, nested, nil) }

// memberFunc receives each member of the top-level object: its decoded name and raw value.
type memberFunc func(name, value []byte) error

// scanner walks JSON that json.Valid has accepted, so it needs no error handling for syntax.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) peek() byte { return s.data[s.pos] }

func (s *scanner) skipSpace() {
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
func (s *scanner) object(nested bool, member memberFunc) error {
	s.pos++ // '{'
	// Objects are small (a token header, a JWK, claims): a linear search over their names until
	// there are many, then a map, so that a forged token with thousands of members costs linear
	// time, not quadratic.
	var namesBuf [16][]byte
	names := namesBuf[:0]
	var many map[string]struct{}
	for {
		s.skipSpace()
		if s.peek() == '}' {
			s.pos++
			return nil
		}
		if s.peek() == ',' {
			s.pos++
			s.skipSpace()
		}
		name, err := s.name()
		if err != nil {
			return err
		}
		if many == nil {
			for _, n := range names {
				if bytes.Equal(n, name) {
					return errDuplicateName
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
				return errDuplicateName
			}
			many[string(name)] = struct{}{}
		}
		s.skipSpace()
		s.pos++ // ':'
		s.skipSpace()
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
func (s *scanner) name() ([]byte, error) {
	start := s.pos
	s.skipString()
	raw := s.data[start:s.pos]
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1], nil
	}
	var decoded string
	if err := json.Unmarshal(raw, &decoded); err != nil {
		return nil, errInvalidJSON
	}
	return []byte(decoded), nil
}

func (s *scanner) skipString() {
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

// value skips one value; nested objects are checked when nested is set.
func (s *scanner) value(nested bool) error {
	switch s.peek() {
	case '"':
		s.skipString()
	case '{':
		if !nested {
			return s.skipComposite()
		}
		return s.object(true, nil)
	case '[':
		if !nested {
			return s.skipComposite()
		}
		s.pos++
		for {
			s.skipSpace()
			switch s.peek() {
			case ']':
				s.pos++
				return nil
			case ',':
				s.pos++
				s.skipSpace()
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
func (s *scanner) skipComposite() error {
	depth := 0
	for {
		switch s.data[s.pos] {
		case '"':
			s.skipString()
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
		s.pos++
		if depth == 0 {
			return nil
		}
	}
}

// walkObject checks data as checkObject does (nested or not) and calls member for each
// top-level member.
func walkObject(data []byte, nested bool, member memberFunc) error {
	if !utf8.Valid(data) {
		return errInvalidUTF8
	}
	if !json.Valid(data) {
		return errInvalidJSON
	}
	s := scanner{data: data}
	s.skipSpace()
	if s.peek() != '{' {
		return errNotObject
	}
	return s.object(nested, member)
}
