package server

import (
	"slices"
	"sync/atomic"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/jwks"
)

// inForce is what other goroutines read of the config in force — readiness, /debug/routes, the
// metrics read at scrape time — as the reloader last published it.
type inForce struct{ p atomic.Pointer[state] }

// state is what other goroutines may read of the reloader's, published after each event.
type state struct {
	settings *config.Settings // nil before the first config
	objects  *policy.ObjectIndex
	keys     []*jwks.KeySet // the key sets in force, one per issuer, in the config's order
	verifier authz.TokenVerifier
}

// current returns the state in force (its settings nil before the first config).
func (f *inForce) current() *state {
	if s := f.p.Load(); s != nil {
		return s
	}
	return &state{}
}

// hasConfig reports whether a config is in force.
func (f *inForce) hasConfig() bool { return f.current().settings != nil }

// keysLoaded reports whether the key sets in force are ready to serve: each has tried a first
// fetch, and at least one has loaded. An issuer that is down leaves the others serving (its
// tokens are answered 503 until its keys load).
func (f *inForce) keysLoaded() bool {
	sets := f.current().keys
	return len(sets) > 0 &&
		!slices.ContainsFunc(sets, func(k *jwks.KeySet) bool { return !k.Attempted() }) &&
		slices.ContainsFunc(sets, (*jwks.KeySet).Loaded)
}

// keysFresh reports whether some loaded key set in force is within maxKeyAge (true before any
// has loaded: keysLoaded covers that). One issuer's stale keys refuse its tokens alone.
func (f *inForce) keysFresh() bool {
	sets := f.current().keys
	return !slices.ContainsFunc(sets, (*jwks.KeySet).Loaded) ||
		slices.ContainsFunc(sets, func(k *jwks.KeySet) bool { return k.Loaded() && !k.Stale() })
}
