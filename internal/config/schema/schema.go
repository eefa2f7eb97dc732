// Package schema generates the JSON Schema of betterauthz's config file from its Go types
// (config.File and every type it uses), so that editors (yaml-language-server) and the Helm
// chart's values.schema.json refuse what the config decoder would refuse, and so that a field
// added to the Go types shows up without anyone writing schema by hand.
//
// The schema follows the decoder (authz/policy's strict YAML decoder): every object is closed
// (an unknown key is an error), values are typed as YAML reads them (a bare 30 is a number,
// not a string), durations are Go durations, and a key whose value may be left empty (null)
// may be so in the schema too. The enums come from the code that checks them: the policy
// names from policy.Action, the algorithms from jwks.Algorithms. What only the config's own
// validation knows (ranges, URL forms, paths, claims) is left to `betterauthz validate`.
//
// Run `make schema` (go run ./internal/config/schema/gen) to regenerate docs/config.schema.json
// and the chart's values.schema.json; a test fails while they are stale.
package schema

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/jwks"
)

// DurationPattern matches what time.ParseDuration accepts.
const DurationPattern = `^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`

// enums are the closed sets of values, by YAML key, wherever the key appears (a rule's policy
// in routes and in later lists of rules; algorithms at the top and in an issuer).
func enums() map[string][]any {
	var actions []any
	for a := policy.Action(0); a.String() != ""; a++ {
		actions = append(actions, a.String())
	}
	var algs []any
	for _, a := range jwks.Algorithms() {
		algs = append(algs, a)
	}
	algs = append(algs, jwks.AlgEd25519) // RFC 9864's name for EdDSA
	return map[string][]any{"policy": actions, "defaultPolicy": actions, "algorithms": algs}
}

// Config is the schema of the whole config file.
func Config(docs Docs) (*Object, error) {
	g := &generator{docs: docs, enums: enums()}
	s, err := g.schema(reflect.TypeOf(config.File{}), "", "")
	if err != nil {
		return nil, err
	}
	top := Obj(
		"$schema", "http://json-schema.org/draft-07/schema#",
		"$id", "https://github.com/betterauthz/betterauthz/docs/config.schema.json",
		"title", "betterauthz config (config.yaml)",
		"description", "betterauthz's config file, or the config.yaml key of its ConfigMap. Generated from the Go types by `make schema`; `betterauthz validate` checks the rest (ranges, URLs, paths, claims).",
	)
	for _, kv := range *s {
		if kv.Key != "description" {
			top.Set(kv.Key, kv.Value)
		}
	}
	top.Set("type", "object") // the document itself is a mapping (an empty file is all defaults)
	return top, nil
}

type generator struct {
	docs  Docs
	enums map[string][]any
}

var durationType = reflect.TypeFor[time.Duration]()

// schema is the schema of a value of type t at key path (for error messages), whose YAML key
// is key.
func (g *generator) schema(t reflect.Type, path, key string) (*Object, error) {
	nullable := false
	if t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	var s *Object
	switch {
	case t == durationType:
		// A bare 0 is a duration too (YAML reads it as a number).
		s = Obj("type", []any{"string", "integer"}, "pattern", DurationPattern, "minimum", 0, "maximum", 0)
	case t.Kind() == reflect.Struct:
		props := Obj()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			fs, err := g.schema(f.Type, join(path, name), name)
			if err != nil {
				return nil, err
			}
			if d := g.docs.field(t, f.Name); d != "" {
				fs.SetFirst("description", d)
			}
			props.Set(name, fs)
		}
		s = Obj("type", "object", "additionalProperties", false, "properties", props)
		nullable = true // the decoder takes an empty value as "all defaults"
	case t.Kind() == reflect.Slice:
		items, err := g.schema(t.Elem(), path+"[]", "")
		if err != nil {
			return nil, err
		}
		if e, ok := g.enums[key]; ok {
			items = Obj("type", "string", "enum", e)
		}
		s = Obj("type", "array", "items", items)
		nullable = true
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		values, err := g.schema(t.Elem(), path+".*", "")
		if err != nil {
			return nil, err
		}
		s = Obj("type", "object", "additionalProperties", values)
		nullable = true
	case t.Kind() == reflect.String:
		s = Obj("type", "string")
		if e, ok := g.enums[key]; ok {
			s.Set("enum", e)
		}
		nullable = true // an empty value is the empty string
	case t.Kind() == reflect.Bool:
		s = Obj("type", "boolean")
	case t.Kind() == reflect.Int:
		s = Obj("type", "integer")
	case t.Kind() == reflect.Interface && t.NumMethod() == 0:
		return Obj(), nil // any value
	default:
		return nil, fmt.Errorf("schema: %s: no JSON Schema for Go type %s: teach internal/config/schema how the config decoder reads it", path, t)
	}
	if nullable {
		s.allowNull()
	}
	return s, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
