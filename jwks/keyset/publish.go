package keyset

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/MicahParks/jwkset"
)

// Published is a key set as betterauthz relays it to other betterauthz (sidecars): Better
// Auth's JWKS JSON, {"keys":[...]}, of the keys in force, and a strong ETag of those bytes.
// Replicas that hold the same keys, fetched in the same order, publish the same bytes and so
// the same ETag.
type Published struct {
	Body []byte
	ETag string
	// At is when the keys were fetched.
	At time.Time
}

// publish renders keys for the relay. Only public members are written, whatever the JWK holds:
// the list below is the whole of what leaves the process (ParseSet already drops private
// parameters and symmetric keys; this does not rely on it).
func publish(keys []jwkset.JWK, at time.Time) *Published {
	set := jwkset.JWKSMarshal{Keys: make([]jwkset.JWKMarshal, 0, len(keys))}
	for _, j := range keys {
		m := j.Marshal()
		if m.KTY == jwkset.KtyOct {
			continue
		}
		set.Keys = append(set.Keys, jwkset.JWKMarshal{
			KTY: m.KTY, USE: m.USE, KEYOPS: m.KEYOPS, ALG: m.ALG, KID: m.KID,
			X5U: m.X5U, X5C: m.X5C, X5T: m.X5T, X5TS256: m.X5TS256,
			CRV: m.CRV, X: m.X, Y: m.Y, N: m.N, E: m.E,
		})
	}
	body, err := json.Marshal(set)
	if err != nil { // strings and lists of strings only: cannot fail
		body = []byte(`{"keys":[]}`)
	}
	sum := sha256.Sum256(body)
	return &Published{Body: body, ETag: `"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`, At: at}
}

// Published is the key set in force as the relay serves it; nil before keys are loaded.
func (k *KeySet) Published() *Published { return k.published.Load() }
