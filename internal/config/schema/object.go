package schema

import (
	"bytes"
	"encoding/json"
	"regexp"
)

// Object is a JSON object that keeps its keys in the order they were set, so that generated
// files read in the order of the Go types and diff cleanly.
type Object []KV

// KV is one member of an Object.
type KV struct {
	Key   string
	Value any
}

// Obj builds an Object from alternating keys and values.
func Obj(kvs ...any) *Object {
	o := &Object{}
	for i := 0; i+1 < len(kvs); i += 2 {
		o.Set(kvs[i].(string), kvs[i+1])
	}
	return o
}

// Get returns the value of key.
func (o *Object) Get(key string) (any, bool) {
	for _, kv := range *o {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Set sets key, in place if present, else last.
func (o *Object) Set(key string, v any) {
	for i := range *o {
		if (*o)[i].Key == key {
			(*o)[i].Value = v
			return
		}
	}
	*o = append(*o, KV{key, v})
}

// SetFirst sets key as the first member.
func (o *Object) SetFirst(key string, v any) {
	o.Delete(key)
	*o = append(Object{{key, v}}, *o...)
}

// Delete removes key.
func (o *Object) Delete(key string) {
	for i := range *o {
		if (*o)[i].Key == key {
			*o = append((*o)[:i], (*o)[i+1:]...)
			return
		}
	}
}

// allowNull lets the value be null as well (an empty YAML value).
func (o *Object) allowNull() {
	switch t, _ := o.Get("type"); t := t.(type) {
	case string:
		o.Set("type", []any{t, "null"})
	case []any:
		o.Set("type", append(t, "null"))
	}
	if e, ok := o.Get("enum"); ok {
		o.Set("enum", append(e.([]any), nil))
	}
}

// MarshalJSON writes the members in order.
func (o Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv.Key)
		b.Write(k)
		b.WriteByte(':')
		v, err := marshal(kv.Value)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal is json.Marshal without HTML escaping (patterns hold < and >).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// Indent renders v as the repository's JSON files are written: two spaces, a final newline.
func Indent(v any, prefix string) ([]byte, error) {
	raw, err := marshal(v)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, prefix, "  "); err != nil {
		return nil, err
	}
	return scalarList.ReplaceAllFunc(b.Bytes(), func(list []byte) []byte {
		var v []any
		_ = json.Unmarshal(list, &v)
		out, _ := marshal(v)
		return bytes.ReplaceAll(out, []byte(`","`), []byte(`", "`))
	}), nil
}

// scalarList is an indented list of strings and nulls, written on one line instead
// (["string", "null"]).
var scalarList = regexp.MustCompile(`\[\s*(?:(?:"(?:[^"\\]|\\.)*"|null),?\s*)+\]`)
