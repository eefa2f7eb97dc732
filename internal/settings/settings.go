// Package settings reads process settings declared once, as the fields of a struct annotated
// with tags, and makes of them everything else: the command-line flags, the environment
// variables that set them, the defaults, the --help text and the README's flag table.
//
//	GRPCAddr string `flag:"grpc-addr" env:"BETTERAUTHZ_GRPC_ADDR" default:":9000" help:"…"`
//
// Tags:
//   - flag: the flag's name (required: fields without it are not settings);
//   - env: the environment variable that sets it when the flag is not given;
//   - default: its value when neither says otherwise, written as on the command line;
//   - unset: what an empty value means, for help and docs ("off", "in-cluster");
//   - help: what it does, with two kinds of markup: a link is written as in Markdown,
//     [text](../page.md#anchor) (relative to docs/reference/, where the table is), and code
//     between single quotes, 'unix:///path.sock' (no spaces: Envoy's
//     and the pod's are words). The docs' table shows them as a link and as code; --help
//     prints a link's text, and code in its quotes.
//
// Fields are strings, booleans, ints, time.Durations or encoding.TextUnmarshalers (slog.Level).
package settings

import (
	"encoding"
	"errors"
	"flag"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"time"
)

// Setting is one annotated field.
type Setting struct {
	Flag, Env, Default, Unset, Help string

	index []int
}

// List lists the settings of a struct or a pointer to one, in field order.
func List(v any) []Setting {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []Setting
	for _, f := range reflect.VisibleFields(t) {
		name, ok := f.Tag.Lookup("flag")
		if !ok {
			continue
		}
		out = append(out, Setting{
			Flag: name, Env: f.Tag.Get("env"), Default: f.Tag.Get("default"), Unset: f.Tag.Get("unset"),
			Help: f.Tag.Get("help"), index: f.Index,
		})
	}
	return out
}

// Register defines a flag on fs for every setting of *v, bound to its field and starting at its
// default.
func Register(fs *flag.FlagSet, v any) error {
	rv := reflect.ValueOf(v).Elem()
	for _, s := range List(v) {
		f := rv.FieldByIndex(s.index)
		value, err := flagValue(f)
		if err != nil {
			return fmt.Errorf("settings: --%s: %w", s.Flag, err)
		}
		if s.Default != "" {
			if err := value.Set(s.Default); err != nil {
				return fmt.Errorf("settings: --%s: default %q: %w", s.Flag, s.Default, err)
			}
		}
		fs.Var(value, s.Flag, Plain(s.Help))
	}
	return nil
}

// Defaults sets every setting of *v whose field is its type's zero value to its default.
func Defaults(v any) error {
	rv := reflect.ValueOf(v).Elem()
	for _, s := range List(v) {
		f := rv.FieldByIndex(s.index)
		if s.Default == "" || !f.IsZero() {
			continue
		}
		value, err := flagValue(f)
		if err == nil {
			err = value.Set(s.Default)
		}
		if err != nil {
			return fmt.Errorf("settings: --%s: default %q: %w", s.Flag, s.Default, err)
		}
	}
	return nil
}

// Environment sets, for every setting of v whose environment variable getenv gives and whose
// flag args do not set, the flag from the variable: flags win.
func Environment(fs *flag.FlagSet, v any, getenv func(string) string) error {
	for _, s := range List(v) {
		if s.Env == "" {
			continue
		}
		if value := getenv(s.Env); value != "" {
			if err := fs.Set(s.Flag, value); err != nil {
				return fmt.Errorf("$%s: %w", s.Env, err)
			}
		}
	}
	return nil
}

// flagValue is a flag.Value that reads into f.
func flagValue(f reflect.Value) (flag.Value, error) {
	p := f.Addr().Interface()
	switch p := p.(type) {
	case *string:
		return (*stringValue)(p), nil
	case *bool:
		return (*boolValue)(p), nil
	case *int:
		return (*intValue)(p), nil
	case *time.Duration:
		return (*durationValue)(p), nil
	case encoding.TextUnmarshaler:
		if m, ok := p.(encoding.TextMarshaler); ok {
			return textValue{p, m}, nil
		}
	}
	return nil, errors.New("unsupported type " + f.Type().String())
}

type (
	stringValue   string
	boolValue     bool
	intValue      int
	durationValue time.Duration
	textValue     struct {
		u encoding.TextUnmarshaler
		m encoding.TextMarshaler
	}
)

func (s *stringValue) Set(v string) error { *s = stringValue(v); return nil }
func (s *stringValue) String() string     { return string(*s) }

func (b *boolValue) Set(v string) error {
	x, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("not a boolean (true or false)")
	}
	*b = boolValue(x)
	return nil
}
func (b *boolValue) String() string   { return strconv.FormatBool(bool(*b)) }
func (b *boolValue) IsBoolFlag() bool { return true }

func (i *intValue) Set(v string) error {
	x, err := strconv.Atoi(v)
	if err != nil {
		return errors.New("not a whole number")
	}
	*i = intValue(x)
	return nil
}
func (i *intValue) String() string { return strconv.Itoa(int(*i)) }

func (d *durationValue) Set(v string) error {
	x, err := time.ParseDuration(v)
	if err != nil {
		return errors.New("not a duration (write it like 30s, 5m or 1h)")
	}
	*d = durationValue(x)
	return nil
}
func (d *durationValue) String() string { return time.Duration(*d).String() }

func (t textValue) Set(v string) error { return t.u.UnmarshalText([]byte(v)) }
func (t textValue) String() string {
	if t.m == nil {
		return ""
	}
	b, _ := t.m.MarshalText()
	return string(b)
}

var (
	link = regexp.MustCompile(`\[([^\]]+)\]\([^)]+\)`)
	code = regexp.MustCompile(`(^|[\s(])'([^'\s]+)'`)
)

// Plain is help text for a terminal: links as their text.
func Plain(help string) string { return link.ReplaceAllString(help, "$1") }

// Markdown is help text for the docs: code in backticks.
func Markdown(help string) string { return code.ReplaceAllString(help, "$1`$2`") }

// DefaultText says what a setting is when not set: its default, or what its absence means.
func (s Setting) DefaultText() string {
	switch {
	case s.Default != "" && s.Default != "false":
		return s.Default
	case s.Unset != "":
		return s.Unset
	case s.Default == "false":
		return "off"
	}
	return "none"
}
