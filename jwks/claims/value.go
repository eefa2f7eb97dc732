package claims

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/betterauthz/betterauthz/jwks/internal/strictjson"
)

// Kind is the JSON type of a claim's value.
type Kind uint8

// The kinds of claim values.
const (
	KindNull Kind = iota
	KindString
	KindNumber
	KindBool
	KindArray
	KindObject
)

// Value is one claim's value, read without decoding the rest of the claims (and, for a
// string, a number or a boolean, without allocating).
type Value struct {
	kind Kind
	// text: a string's text, a number as written, "true" or "false"; an array's or an
	// object's JSON.
	text string
}

// rawValue is a value as JSON text (valid, and free of duplicate names), strings decoded.
func rawValue(raw string) Value {
	switch raw[0] {
	case '"':
		return Value{kind: KindString, text: strictjson.Unquote(raw)}
	case '{':
		return Value{kind: KindObject, text: raw}
	case '[':
		return Value{kind: KindArray, text: raw}
	case 't', 'f':
		return Value{kind: KindBool, text: raw}
	case 'n':
		return Value{kind: KindNull}
	default:
		return Value{kind: KindNumber, text: raw}
	}
}

// Kind is the value's JSON type.
func (v Value) Kind() Kind { return v.kind }

// Text is a string's text, a number as written, or "true" or "false" ("" for other kinds).
func (v Value) Text() string {
	switch v.kind {
	case KindString, KindNumber, KindBool:
		return v.text
	}
	return ""
}

// Any is the value as decoding the claims' JSON gives it (numbers as json.Number).
func (v Value) Any() any {
	switch v.kind {
	case KindString:
		return v.text
	case KindNumber:
		return json.Number(v.text)
	case KindBool:
		return v.text == "true"
	case KindArray, KindObject:
		return decodeJSON(strictjson.BytesOf(v.text))
	}
	return nil
}

// String renders the value as the package's String does.
func (v Value) String() (string, bool) {
	switch v.kind {
	case KindNull:
		return "", false
	case KindArray, KindObject:
		return String(decodeJSON(strictjson.BytesOf(v.text)))
	}
	return v.text, true
}

// Elements calls yield with each element of an array, in order, until it returns false.
func (v Value) Elements(yield func(Value) bool) {
	if v.kind != KindArray {
		return
	}
	s := strictjson.NewScanner(strictjson.BytesOf(v.text), 1)
	for {
		s.SkipSpace()
		switch s.Peek() {
		case ']':
			return
		case ',':
			s.Advance(1)
			s.SkipSpace()
		}
		start := s.Pos()
		s.SkipValue()
		if !yield(rawValue(v.text[start:s.Pos()])) {
			return
		}
	}
}

// String renders a decoded claim value the way it travels in an HTTP header: strings as they
// are, numbers and booleans in their JSON form, lists of scalars joined with commas, objects
// as compact JSON. ok is false for null and absent values.
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

// decodeJSON decodes valid JSON as claims' values are (numbers as json.Number).
func decodeJSON(raw []byte) any {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil // unreachable: raw was checked when the claims were read
	}
	return v
}
