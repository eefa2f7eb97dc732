package config

import "github.com/betterauthz/betterauthz/internal/strictyaml"

// FieldError is one config problem, located by key path and line.
type FieldError = strictyaml.FieldError

// Problems lists every problem inside an error from Parse.
func Problems(err error) []*FieldError { return strictyaml.Problems(err) }
