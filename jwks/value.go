package jwks

import (
	"bytes"
	"encoding/json"
)

// ClaimReader reads verified claims: Claims (decoded) and *CompactClaims (the form the
// verified-token cache keeps) both do, alike.
type ClaimReader interface {
	// Claim finds a claim by name, or by a dotted path into nested objects when no top-level
	// claim has the full name (see Claims.Lookup).
	Claim(path string) (Value, bool)
	// Subject is the sub claim, or "" when it is absent or not a string.
	Subject() string
}

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
	// KindOther is a Go value that decoding JSON never yields, put in Claims by hand.
	KindOther
)

// Value is one claim's value, read without decoding the rest of the claims (and, for a
// string, a number or a boolean, without allocating).
type Value struct {
	kind Kind
	// text: a string's text, a number as written, "true" or "false"; an array or object read
	// from CompactClaims: its JSON.
	text string
	// decoded is the value itself when it was read from Claims (mapped).
	decoded any
	mapped  bool
}

// valueOf is a value of decoded Claims.
func valueOf(v any) Value {
	out := Value{decoded: v, mapped: true}
	switch t := v.(type) {
	case nil:
		out.kind = KindNull
	case string:
		out.kind, out.text = KindString, t
	case json.Number:
		out.kind, out.text = KindNumber, string(t)
	case bool:
		out.kind, out.text = KindBool, "false"
		if t {
			out.text = "true"
		}
	case []any:
		out.kind = KindArray
	case map[string]any:
		out.kind = KindObject
	default:
		out.kind = KindOther
	}
	return out
}

// rawValue is a value as JSON text (valid, and free of duplicate names), strings decoded.
func rawValue(raw string) Value {
	switch raw[0] {
	case '"':
		return Value{kind: KindString, text: unquote(raw)}
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
	if v.mapped {
		return v.decoded
	}
	switch v.kind {
	case KindString:
		return v.text
	case KindNumber:
		return json.Number(v.text)
	case KindBool:
		return v.text == "true"
	case KindArray, KindObject:
		return decodeJSON(bytesOf(v.text))
	}
	return nil
}

// String renders the value as String does.
func (v Value) String() (string, bool) {
	switch {
	case v.mapped:
		return String(v.decoded)
	case v.kind == KindNull:
		return "", false
	case v.kind == KindArray || v.kind == KindObject:
		return String(decodeJSON(bytesOf(v.text)))
	}
	return v.text, true
}

// Elements calls yield with each element of an array, in order, until it returns false.
func (v Value) Elements(yield func(Value) bool) {
	if v.kind != KindArray {
		return
	}
	if v.mapped {
		for _, e := range v.decoded.([]any) {
			if !yield(valueOf(e)) {
				return
			}
		}
		return
	}
	s := scanner{data: bytesOf(v.text), pos: 1}
	for {
		s.skipSpace()
		switch s.peek() {
		case ']':
			return
		case ',':
			s.pos++
			s.skipSpace()
		}
		start := s.pos
		_ = s.value(false) // valid JSON: skipping cannot fail
		if !yield(rawValue(v.text[start:s.pos])) {
			return
		}
	}
}

// decodeJSON decodes valid JSON as Claims' values are (numbers as json.Number).
func decodeJSON(raw []byte) any {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil // unreachable: raw was checked when the claims were read
	}
	return v
}

// unquote decodes a JSON string (valid), without allocating when it has no escapes.
func unquote(raw string) string {
	inner := raw[1 : len(raw)-1]
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\\' {
			var s string
			_ = json.Unmarshal(bytesOf(raw), &s)
			return s
		}
	}
	return inner
}
