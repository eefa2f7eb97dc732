package policy

import "fmt"

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
