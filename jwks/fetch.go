package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/MicahParks/jwkset"
)

// download fetches and parses a JWKS. problems lists keys that were skipped.
func download(ctx context.Context, client *http.Client, url string, maxBytes int64) ([]jwkset.JWK, []error, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "betterauthz")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, nil, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: read body: %w", url, err)
	}
	if int64(len(body)) > maxBytes {
		return nil, nil, fmt.Errorf("GET %s: response larger than %d bytes", url, maxBytes)
	}
	keys, problems, err := ParseSet(body)
	if err != nil {
		return nil, problems, fmt.Errorf("GET %s: %w", url, err)
	}
	return keys, problems, nil
}

// ParseSet parses a JWKS document. A key that cannot be used (unsupported type, bad
// parameters, no kid, a duplicate kid, use other than "sig", symmetric) is skipped and reported
// in problems; the set as a whole fails only when it is not a JWKS at all or when it lists keys
// and none is usable. {"keys":[]} is a valid, empty set.
func ParseSet(data []byte) (keys []jwkset.JWK, problems []error, err error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	if doc.Keys == nil {
		return nil, nil, errors.New(`not a JSON Web Key Set: no "keys" member`)
	}
	seen := make(map[string]bool, len(*doc.Keys))
	for i, raw := range *doc.Keys {
		jwk, err := parseKey(raw, seen)
		if err != nil {
			problems = append(problems, fmt.Errorf("keys[%d]: %w", i, err))
			continue
		}
		keys = append(keys, jwk)
	}
	if len(*doc.Keys) > 0 && len(keys) == 0 {
		return nil, problems, fmt.Errorf("none of its %d keys is usable: %w", len(*doc.Keys), problems[0])
	}
	return keys, problems, nil
}

func parseKey(raw json.RawMessage, seen map[string]bool) (jwkset.JWK, error) {
	var m jwkset.JWKMarshal
	if err := json.Unmarshal(raw, &m); err != nil {
		return jwkset.JWK{}, fmt.Errorf("not a JWK: %w", err)
	}
	switch {
	case m.KID == "":
		return jwkset.JWK{}, errors.New(`no "kid"`)
	case seen[m.KID]:
		return jwkset.JWK{}, fmt.Errorf("kid %q: duplicate kid", m.KID)
	case m.USE != "" && m.USE != jwkset.UseSig:
		return jwkset.JWK{}, fmt.Errorf("kid %q: use %q is not \"sig\"", m.KID, m.USE)
	case m.KTY == jwkset.KtyOct:
		return jwkset.JWK{}, fmt.Errorf("kid %q: symmetric keys are never trusted", m.KID)
	}
	// Only public parameters are read: a JWKS that leaks private ones still yields a public key.
	m.D, m.P, m.Q, m.DP, m.DQ, m.QI, m.OTH = "", "", "", "", "", "", nil
	jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return jwkset.JWK{}, fmt.Errorf("kid %q: %w", m.KID, err)
	}
	seen[m.KID] = true
	return jwk, nil
}
