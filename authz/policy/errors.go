package policy

import (
	"fmt"
	"unicode/utf8"
)

// FieldError is one problem in a config, located by its key path ("routes[2].policy").
type FieldError struct {
	Path string
	Line int // 0 when unknown
	Msg  string
}

func (e *FieldError) Error() string {
	path := clip(e.Path)
	if path == "" {
		path = "(top level)"
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s: %s (line %d)", path, e.Msg, e.Line)
	}
	return fmt.Sprintf("%s: %s", path, e.Msg)
}

// Errorf makes a FieldError. String arguments are clipped to maxLoggedValue bytes: errors are
// logged, and a value written by someone else (an annotation, an Envoy route) is never logged
// in full.
func Errorf(path string, line int, format string, args ...any) *FieldError {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = clip(s)
		}
	}
	return &FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// maxLoggedValue bounds how much of one outside value an error or a log line repeats.
const maxLoggedValue = 256

// clip cuts s to at most maxLoggedValue bytes (at a UTF-8 boundary), marking the cut with "…".
func clip(s string) string {
	if len(s) <= maxLoggedValue {
		return s
	}
	cut := maxLoggedValue - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Clip is clip for other packages' log lines: at most 256 bytes of an outside value.
func Clip(s string) string { return clip(s) }

// JoinPath prefixes a key path: JoinPath("routes[2]", "claims.role") is "routes[2].claims.role".
func JoinPath(path, key string) string { return join(path, key) }

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
