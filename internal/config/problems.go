package config

import "github.com/betterauthz/betterauthz/authz/policy"

// FieldError is one config problem, located by key path and line.
type FieldError = policy.FieldError

// Problems lists every problem inside an error from Parse.
func Problems(err error) []*FieldError { return policy.Problems(err) }
