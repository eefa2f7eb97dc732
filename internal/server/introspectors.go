package server

import (
	"errors"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/introspect"
)

// introspectors are the introspection clients of a config's resources, by resource identifier.
type introspectors map[string]*introspect.Introspector

// introspectors builds the clients of s's resources with introspection. One whose settings a
// reload leaves as they were is kept, with its warm cache; its secret file is read again all
// the same. A secret file that is missing, empty or unreadable refuses the config, naming the
// key: the config in force stays.
func (r *reloader) introspectors(s *config.Settings) (introspectors, error) {
	var out introspectors
	var errs []error
	for _, res := range s.Resources {
		in := res.Introspection
		if in == nil {
			continue
		}
		if out == nil {
			out = introspectors{}
		}
		if old := r.introspecting[res.Resource]; old != nil && in.Equal(introspectionOf(r.settings, res.Resource)) {
			if err := old.Reload(); err != nil {
				errs = append(errs, policy.Errorf(in.Key+".clientSecretFile", 0, "%v", err))
				continue
			}
			out[res.Resource] = old
			continue
		}
		o := in.Options(res.Resource)
		o.Log, o.Observe = r.log, r.metrics.Introspected
		n, err := introspect.New(o)
		if err != nil {
			key := in.Key + ".clientSecretFile"
			if errors.Is(err, introspect.ErrCAFile) {
				key = "jwksCAFile" // the issuer's, as the key set's refusal names it
			}
			errs = append(errs, policy.Errorf(key, 0, "%v", err))
			continue
		}
		out[res.Resource] = n
	}
	return out, errors.Join(errs...)
}

// introspectionOf is the introspection settings of a resource in s (nil: none).
func introspectionOf(s *config.Settings, resource string) *config.Introspection {
	if s == nil {
		return nil
	}
	for _, res := range s.Resources {
		if res.Resource == resource {
			return res.Introspection
		}
	}
	return nil
}

// snapshot is what decisions read of them.
func (in introspectors) snapshot() map[string]authz.Introspector {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]authz.Introspector, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}
