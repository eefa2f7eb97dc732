package server

import (
	"net/http"

	"github.com/betterauthz/betterauthz/jwks"
	"github.com/betterauthz/betterauthz/jwks/relay"
)

// jwksRelay serves the key sets in force to sidecars (package relay): GET /jwks with one
// issuer, GET /jwks/<issuer name> with any number. With several, /jwks answers 404 rather than
// pick one: a sidecar given another issuer's keys would verify that issuer's tokens as its own.
func jwksRelay(f *inForce) http.HandlerFunc {
	waiting := &relay.Waiting{Max: relay.DefaultMaxWaiting}
	return func(w http.ResponseWriter, r *http.Request) {
		st := f.current()
		if st.settings == nil {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "no config loaded yet", http.StatusServiceUnavailable)
			return
		}
		var ks *jwks.KeySet
		if name := r.PathValue("issuer"); name == "" {
			if len(st.keys) != 1 {
				http.Error(w, "several issuers: GET /jwks/<issuer name>", http.StatusNotFound)
				return
			}
			ks = st.keys[0]
		} else {
			for _, k := range st.keys {
				if k.Name() == name {
					ks = k
				}
			}
			if ks == nil {
				http.Error(w, "no such issuer", http.StatusNotFound)
				return
			}
		}
		relay.Serve(w, r, ks, relay.Options{RefreshInterval: st.settings.JWKSRefreshInterval, Waiting: waiting})
	}
}
