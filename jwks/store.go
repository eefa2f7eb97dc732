package jwks

import (
	"context"
	"errors"

	"github.com/MicahParks/jwkset"
)

var errReadOnly = errors.New("jwks: the key set is replaced only by a successful fetch")

// keyStore is the jwkset.Storage keyfunc reads from: lookups go through the KeySet, so that an
// unknown kid waits for a refresh, and every write is refused — only a fetch replaces the keys.
// (A KeySet that embedded jwkset's MemoryJWKSet would export its write methods to everyone.)
type keyStore struct {
	*jwkset.MemoryJWKSet // the read-only rest of the interface: JSON, Marshal, ...
	ks                   *KeySet
}

func (k *KeySet) storage() jwkset.Storage { return keyStore{MemoryJWKSet: k.keys, ks: k} }

func (s keyStore) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	return s.ks.KeyRead(ctx, kid)
}

func (keyStore) KeyDelete(context.Context, string) (bool, error)   { return false, errReadOnly }
func (keyStore) KeyReplaceAll(context.Context, []jwkset.JWK) error { return errReadOnly }
func (keyStore) KeyWrite(context.Context, jwkset.JWK) error        { return errReadOnly }
