package policy

// Policies are written in YAML (the config file, betterauthz.io/rules annotations, Envoy
// context_extensions) and decoded strictly: unknown and duplicate keys and values of the wrong
// shape are errors, every error names its key path and line, and all of them are reported, not
// just the first.

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DecodeResult is the outcome of Decode: the problems found, and the line of every key path so that
// later checks can point at the line too.
type DecodeResult struct {
	Errs  []error
	lines map[string]int
	nodes int // decoded so far, aliases expanded
}

// Line is the line of the key at path (0 if unknown).
func (d *DecodeResult) Line(path string) int { return d.lines[path] }

// Failed reports whether decoding already found a problem at path or below it.
func (d *DecodeResult) Failed(path string) bool {
	for _, e := range d.Errs {
		if fe, ok := e.(*FieldError); ok && (fe.Path == path || strings.HasPrefix(fe.Path, path+".") || strings.HasPrefix(fe.Path, path+"[")) {
			return true
		}
	}
	return false
}

// maxDecodedNodes bounds the nodes one document decodes to, aliases expanded: a few kilobytes of
// YAML whose aliases point at aliases (a "billion laughs") would otherwise take minutes of CPU
// and gigabytes of memory.
const maxDecodedNodes = 100_000

// ErrAliases refuses YAML anchors and aliases in documents betterauthz takes from people it does
// not trust as it trusts the config's owner (annotations, Envoy routes).
var ErrAliases = errors.New("YAML anchors and aliases (&name, *name) are not accepted here: write the values out")

// Decode decodes YAML into out (a pointer). Unlike yaml.v3's KnownFields, every error names the
// full key path (prefixed with base, which may be empty), and all errors are reported. Aliases
// are expanded, up to maxDecodedNodes nodes in all.
func Decode(data []byte, out any, base string) *DecodeResult {
	return decode(data, out, base, true)
}

// DecodeUntrusted is Decode for documents from annotations and Envoy routes: a document with an
// anchor or an alias is refused whole (ErrAliases).
func DecodeUntrusted(data []byte, out any, base string) *DecodeResult {
	return decode(data, out, base, false)
}

func decode(data []byte, out any, base string, aliases bool) *DecodeResult {
	d := &DecodeResult{lines: map[string]int{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.Errs = append(d.Errs, &FieldError{Path: base, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")})
		return d
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return d // empty document: all defaults
	}
	if !aliases {
		if line := anchorLine(&doc); line > 0 {
			d.Errs = append(d.Errs, &FieldError{Path: base, Line: line, Msg: ErrAliases.Error()})
			return d
		}
	}
	decodeNode(doc.Content[0], reflect.ValueOf(out).Elem(), base, d)
	return d
}

// anchorLine is the line of the first anchor or alias in the document, 0 if it has none.
func anchorLine(n *yaml.Node) int {
	if n.Anchor != "" || n.Kind == yaml.AliasNode {
		return max(n.Line, 1)
	}
	for _, c := range n.Content {
		if line := anchorLine(c); line > 0 {
			return line
		}
	}
	return 0
}

var durationType = reflect.TypeOf(time.Duration(0))

// decoder decodes one node at one key path.
type decoder struct {
	n    *yaml.Node
	path string
	d    *DecodeResult
}

func (dc decoder) fail(format string, args ...any) {
	dc.d.Errs = append(dc.d.Errs, Errorf(dc.path, dc.n.Line, format, args...))
}

func decodeNode(n *yaml.Node, v reflect.Value, path string, d *DecodeResult) {
	if d.nodes++; d.nodes > maxDecodedNodes {
		if d.nodes == maxDecodedNodes+1 {
			d.Errs = append(d.Errs, &FieldError{Path: path, Line: n.Line, Msg: fmt.Sprintf("the document decodes to more than %d values (aliases expanded)", maxDecodedNodes)})
		}
		return
	}
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	dc := decoder{n: n, path: path, d: d}
	switch {
	case v.Kind() == reflect.Pointer:
		if isNull(n) {
			return
		}
		p := reflect.New(v.Type().Elem())
		decodeNode(n, p.Elem(), path, d)
		v.Set(p)
	case v.Type() == durationType:
		dc.duration(v)
	case v.Kind() == reflect.Struct:
		dc.structure(v)
	case v.Kind() == reflect.Slice:
		dc.list(v)
	case v.Kind() == reflect.Map:
		dc.mapping(v)
	default:
		dc.scalar(v)
	}
}

func (dc decoder) duration(v reflect.Value) {
	if dc.n.Kind != yaml.ScalarNode || isNull(dc.n) {
		dc.fail("must be a duration such as 30s or 5m")
		return
	}
	d, err := time.ParseDuration(dc.n.Value)
	if err != nil {
		dc.fail("%q is not a duration (write it like 30s, 5m or 1h)", dc.n.Value)
		return
	}
	v.SetInt(int64(d))
}

func (dc decoder) structure(v reflect.Value) {
	n := dc.n
	if n.Kind != yaml.MappingNode {
		if !isNull(n) {
			dc.fail("must be a mapping of keys to values")
		}
		return
	}
	fields := structFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := join(dc.path, k.Value)
		idx, ok := fields[k.Value]
		switch {
		case !ok:
			dc.d.Errs = append(dc.d.Errs, &FieldError{Path: kp, Line: k.Line, Msg: "unknown key" + suggest(k.Value, fields)})
		case seen[k.Value]:
			dc.d.Errs = append(dc.d.Errs, &FieldError{Path: kp, Line: k.Line, Msg: "duplicate key"})
		default:
			seen[k.Value] = true
			dc.d.lines[kp] = k.Line
			decodeNode(val, v.Field(idx), kp, dc.d)
		}
	}
}

func (dc decoder) list(v reflect.Value) {
	n := dc.n
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		dc.fail("must be a list")
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		decodeNode(item, s.Index(i), fmt.Sprintf("%s[%d]", dc.path, i), dc.d)
	}
	v.Set(s)
}

func (dc decoder) mapping(v reflect.Value) {
	n := dc.n
	if isNull(n) {
		v.Set(reflect.MakeMap(v.Type()))
		return
	}
	if n.Kind != yaml.MappingNode {
		dc.fail("must be a mapping of keys to values")
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := join(dc.path, k.Value)
		if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			dc.d.Errs = append(dc.d.Errs, &FieldError{Path: kp, Line: k.Line, Msg: "duplicate key"})
			continue
		}
		dc.d.lines[kp] = k.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		decodeNode(val, elem, kp, dc.d)
		m.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
	v.Set(m)
}

func (dc decoder) scalar(v reflect.Value) {
	n := dc.n
	switch v.Kind() {
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			dc.fail("%s", strings.TrimPrefix(err.Error(), "yaml: "))
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			dc.fail("must be a string")
			return
		}
		if !isNull(n) {
			v.SetString(n.Value)
		}
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || err != nil {
			dc.fail("must be true or false")
			return
		}
		v.SetBool(b)
	case reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || err != nil {
			dc.fail("must be a whole number")
			return
		}
		v.SetInt(int64(i))
	default:
		dc.fail("cannot hold a %s (a bug in betterauthz)", v.Kind())
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
