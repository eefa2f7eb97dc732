package settings

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
)

// Usage writes the settings of v as --help lists them: each flag with its value's placeholder,
// its default and its environment variable, then what it does.
func Usage(w io.Writer, v any) {
	for _, s := range List(v) {
		fmt.Fprintf(w, "  --%s", s.Flag)
		if m := s.meta(v); m != "" {
			fmt.Fprintf(w, " %s", m)
		}
		fmt.Fprintf(w, "  (default %s", s.DefaultText())
		if s.Env != "" {
			fmt.Fprintf(w, "; $%s", s.Env)
		}
		fmt.Fprintf(w, ")\n        %s\n", wrap(Plain(s.Help), 88, "        "))
	}
}

// Table is the settings of v as the README's Markdown table: flag, default, environment
// variable, what it does.
func Table(v any) string {
	var b strings.Builder
	b.WriteString("| flag | default | environment | |\n| --- | --- | --- | --- |\n")
	for _, s := range List(v) {
		flag := "--" + s.Flag
		if m := s.meta(v); m != "" {
			flag += " " + m
		}
		def := s.DefaultText()
		if def == s.Default {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", flag, def, s.Env, Markdown(s.Help))
	}
	return b.String()
}

// meta is the placeholder of the setting's value: its meta tag, else one for its type (none for
// a boolean).
func (s Setting) meta(v any) string {
	if s.Meta != "" {
		return s.Meta
	}
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch f := t.FieldByIndex(s.index); {
	case f.Type.Kind() == reflect.Bool:
		return ""
	case f.Type == reflect.TypeFor[time.Duration]():
		return "DURATION"
	case f.Type.Kind() == reflect.Int:
		return "N"
	}
	return "VALUE"
}

// wrap breaks text into lines of at most width, the lines after the first indented.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(text) {
		if i > 0 && n+1+len(word) > width {
			b.WriteString("\n" + indent)
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
