// Package strictyaml decodes YAML into Go structs strictly: unknown and duplicate keys and
// values of the wrong shape are errors, every error names its key path and line, and all of
// them are reported, not just the first.
package strictyaml

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// FieldError is one problem in a config, located by its key path ("routes[2].policy").
type FieldError struct {
	Path string
	Line int // 0 when unknown
	Msg  string
}

func (e *FieldError) Error() string {
	path := e.Path
	if path == "" {
		path = "(top level)"
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s: %s (line %d)", path, e.Msg, e.Line)
	}
	return fmt.Sprintf("%s: %s", path, e.Msg)
}

// Errorf makes a FieldError.
func Errorf(path string, line int, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// Join prefixes each key path: Join("routes[2]", "claims.role") is "routes[2].claims.role".
func Join(path, key string) string { return join(path, key) }

// Problems lists every FieldError inside err (which may be a join of several).
func Problems(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if fe, ok := e.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		out = append(out, &FieldError{Msg: e.Error()})
	}
	walk(err)
	return out
}

// Result is the outcome of Decode: the problems found, and the line of every key path so that
// later checks can point at the line too.
type Result struct {
	Errs  []error
	lines map[string]int
}

// Line is the line of the key at path (0 if unknown).
func (d *Result) Line(path string) int { return d.lines[path] }

// Failed reports whether decoding already found a problem at path or below it.
func (d *Result) Failed(path string) bool {
	for _, e := range d.Errs {
		if fe, ok := e.(*FieldError); ok && (fe.Path == path || strings.HasPrefix(fe.Path, path+".") || strings.HasPrefix(fe.Path, path+"[")) {
			return true
		}
	}
	return false
}

// Decode decodes YAML into out (a pointer). Unlike yaml.v3's KnownFields, every error names the
// full key path (prefixed with base, which may be empty), and all errors are reported.
func Decode(data []byte, out any, base string) *Result {
	d := &Result{lines: map[string]int{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.Errs = append(d.Errs, &FieldError{Path: base, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")})
		return d
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return d // empty document: all defaults
	}
	decodeNode(doc.Content[0], reflect.ValueOf(out).Elem(), base, d)
	return d
}

var durationType = reflect.TypeOf(time.Duration(0))

func decodeNode(n *yaml.Node, v reflect.Value, path string, d *Result) {
	errs := &d.Errs
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line
	}
	fail := func(format string, args ...any) {
		*errs = append(*errs, &FieldError{Path: path, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if v.Kind() == reflect.Pointer {
		if isNull(n) {
			return
		}
		p := reflect.New(v.Type().Elem())
		decodeNode(n, p.Elem(), path, d)
		v.Set(p)
		return
	}
	if v.Type() == durationType {
		if n.Kind != yaml.ScalarNode || isNull(n) {
			fail("must be a duration such as 30s or 5m")
			return
		}
		d, err := time.ParseDuration(n.Value)
		if err != nil {
			fail("%q is not a duration (write it like 30s, 5m or 1h)", n.Value)
			return
		}
		v.SetInt(int64(d))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if !isNull(n) {
				fail("must be a mapping of keys to values")
			}
			return
		}
		fields := structFields(v.Type())
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			idx, ok := fields[k.Value]
			switch {
			case !ok:
				*errs = append(*errs, &FieldError{Path: kp, Line: k.Line, Msg: "unknown key" + suggest(k.Value, fields)})
			case seen[k.Value]:
				*errs = append(*errs, &FieldError{Path: kp, Line: k.Line, Msg: "duplicate key"})
			default:
				seen[k.Value] = true
				d.lines[kp] = k.Line
				decodeNode(val, v.Field(idx), kp, d)
			}
		}
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			fail("must be a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			decodeNode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), d)
		}
		v.Set(s)
	case reflect.Map:
		if isNull(n) {
			v.Set(reflect.MakeMap(v.Type()))
			return
		}
		if n.Kind != yaml.MappingNode {
			fail("must be a mapping of keys to values")
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
				*errs = append(*errs, &FieldError{Path: kp, Line: k.Line, Msg: "duplicate key"})
				continue
			}
			d.lines[kp] = k.Line
			elem := reflect.New(v.Type().Elem()).Elem()
			decodeNode(val, elem, kp, d)
			m.SetMapIndex(reflect.ValueOf(k.Value), elem)
		}
		v.Set(m)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			fail("%s", strings.TrimPrefix(err.Error(), "yaml: "))
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			fail("must be a string")
			return
		}
		if !isNull(n) {
			v.SetString(n.Value)
		}
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || err != nil {
			fail("must be true or false")
			return
		}
		v.SetBool(b)
	case reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || err != nil {
			fail("must be a whole number")
			return
		}
		v.SetInt(int64(i))
	default:
		fail("cannot hold a %s (a bug in betterauthz)", v.Kind())
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// structFields maps yaml keys to field indexes.
func structFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			m[tag] = i
		}
	}
	return m
}

// suggest names a known key that differs from key only in case or a plural s, the commonest
// typos ("clockskew", "path").
func suggest(key string, fields map[string]int) string {
	for k := range fields {
		if strings.EqualFold(k, key) || strings.EqualFold(k, key+"s") || strings.EqualFold(k+"s", key) {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
	}
	return ""
}
