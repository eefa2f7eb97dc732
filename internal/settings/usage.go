package settings

import (
	"encoding"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
)

// Usage writes the settings of v as --help lists them, in the flag package's layout: each flag
// with its value's type, then what it does, its default and its environment variable.
func Usage(w io.Writer, v any) {
	for _, s := range List(v) {
		fmt.Fprintf(w, "  -%s", s.Flag)
		if t := s.typeName(v); t != "" {
			fmt.Fprintf(w, " %s", t)
		}
		text := Plain(s.Help) + " (default " + s.DefaultText()
		if s.Env != "" {
			text += "; $" + s.Env
		}
		fmt.Fprintf(w, "\n    \t%s\n", wrap(text+")", 88, "\n    \t"))
	}
}

// Table is the settings of v as the reference's Markdown table: flag, environment variable,
// default, what it does.
func Table(v any) string {
	var b strings.Builder
	b.WriteString("| flag | environment | default | |\n| --- | --- | --- | --- |\n")
	for _, s := range List(v) {
		flag := "--" + s.Flag
		if t := s.typeName(v); t != "" {
			flag += " " + t
		}
		def := s.DefaultText()
		if def == s.Default {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", flag, s.Env, def, strings.ReplaceAll(Markdown(s.Help), "|", "\\|"))
	}
	return b.String()
}

// typeName names the type of the setting's value as the flag package does: none for a boolean,
// string, int, duration, and VALUE for the others.
func (s Setting) typeName(v any) string {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch f := t.FieldByIndex(s.index); {
	case reflect.PointerTo(f.Type).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()):
		return "VALUE"
	case f.Type.Kind() == reflect.Bool:
		return ""
	case f.Type == reflect.TypeFor[time.Duration]():
		return "duration"
	case f.Type.Kind() == reflect.Int:
		return "int"
	case f.Type.Kind() == reflect.String:
		return "string"
	}
	return "VALUE"
}

// wrap breaks text into lines of at most width, joined with sep.
func wrap(text string, width int, sep string) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(text) {
		if i > 0 && n+1+len(word) > width {
			b.WriteString(sep)
			n = 0
		} else if i > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}
