package policy

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"

	"github.com/betterauthz/betterauthz/jwks"
)

// claimRequirement: the claim at Path must equal one of Values. Values are strings, booleans
// or numbers (*big.Rat), and compare with claims of the same kind only: true is not "true".
type claimRequirement struct {
	Path   string
	Values []any
}

// compileClaims turns a rule's claims (claim path -> value or list of values) into
// requirements, sorted by path so that descriptions are stable. base is the key path of the
// claims mapping, for errors.
func compileClaims(spec map[string]any, base string, lines LineFunc) ([]claimRequirement, []error) {
	var reqs []claimRequirement
	var errs []error
	for _, path := range slices.Sorted(maps.Keys(spec)) {
		key := JoinPath(base, path)
		fieldErr := func(msg string) error { return Errorf(key, lines(key), "%s", msg) }
		if path == "" || strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") || strings.Contains(path, "..") {
			errs = append(errs, fieldErr("is not a claim name or dotted path"))
			continue
		}
		var raw []any
		if list, ok := spec[path].([]any); ok {
			raw = list
		} else {
			raw = []any{spec[path]}
		}
		if len(raw) == 0 {
			errs = append(errs, fieldErr("lists no values: a claim requirement needs at least one"))
			continue
		}
		req := claimRequirement{Path: path}
		for _, v := range raw {
			cv, err := claimValue(v)
			if err != nil {
				errs = append(errs, fieldErr(err.Error()))
				continue
			}
			req.Values = append(req.Values, cv)
		}
		reqs = append(reqs, req)
	}
	return reqs, errs
}

func claimValue(v any) (any, error) {
	switch t := v.(type) {
	case string, bool:
		return t, nil
	case int:
		return new(big.Rat).SetInt64(int64(t)), nil
	case int64:
		return new(big.Rat).SetInt64(t), nil
	case uint64:
		return new(big.Rat).SetUint64(t), nil
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(t) == nil {
			return nil, fmt.Errorf("%v is not a finite number", t)
		}
		return r, nil
	case nil:
		return nil, fmt.Errorf("null cannot be required (leave the claim out instead)")
	default:
		return nil, fmt.Errorf("must be a string, boolean or number, or a list of them")
	}
}

// satisfied reports whether the claims meet the requirement. It allocates nothing unless a
// number is compared.
func (r claimRequirement) satisfied(c jwks.Claims) bool {
	got, ok := c.Claim(r.Path)
	if !ok {
		return false
	}
	switch got.Kind() {
	case jwks.KindArray:
		// A list offers its elements.
		found := false
		got.Elements(func(e jwks.Value) bool {
			found = r.accepts(e)
			return !found
		})
		return found
	case jwks.KindString:
		if r.accepts(got) {
			return true
		}
		// A string claim named "role" or "roles" (Better Auth's admin and organization plugins
		// store several roles as "admin,user") offers its comma-separated parts too. Other
		// strings are never split: a user who may edit their own name must not gain a role by
		// putting a comma in it.
		name := r.Path[strings.LastIndexByte(r.Path, '.')+1:]
		if (name == "role" || name == "roles") && strings.Contains(got.Text(), ",") {
			for part := range strings.SplitSeq(got.Text(), ",") {
				if r.acceptsString(strings.TrimSpace(part)) {
					return true
				}
			}
		}
		return false
	}
	return r.accepts(got)
}

// accepts reports whether a value is one of the requirement's.
func (r claimRequirement) accepts(have jwks.Value) bool {
	for _, want := range r.Values {
		if equalClaim(have, want) {
			return true
		}
	}
	return false
}

// acceptsString reports whether a string is one of the requirement's.
func (r claimRequirement) acceptsString(s string) bool {
	for _, want := range r.Values {
		if w, ok := want.(string); ok && w == s {
			return true
		}
	}
	return false
}

func equalClaim(have jwks.Value, want any) bool {
	switch w := want.(type) {
	case string:
		return have.Kind() == jwks.KindString && have.Text() == w
	case bool:
		return have.Kind() == jwks.KindBool && (have.Text() == "true") == w
	case *big.Rat:
		var hs string
		switch h := have.Any().(type) {
		case json.Number:
			hs = h.String()
		case float64:
			return new(big.Rat).SetFloat64(h) != nil && new(big.Rat).SetFloat64(h).Cmp(w) == 0
		default:
			return false
		}
		hr, ok := new(big.Rat).SetString(hs)
		return ok && hr.Cmp(w) == 0
	}
	return false
}

// describe says what a requirement asks for, for a 403's error_description.
func (r claimRequirement) describe() string {
	vals := make([]string, len(r.Values))
	for i, v := range r.Values {
		switch t := v.(type) {
		case *big.Rat:
			vals[i] = t.RatString()
		default:
			vals[i] = fmt.Sprint(t)
		}
	}
	if len(vals) == 1 {
		return fmt.Sprintf("claim %q must be %s", r.Path, vals[0])
	}
	return fmt.Sprintf("claim %q must be one of %s", r.Path, strings.Join(vals, ", "))
}
