package keyset

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"

	"github.com/betterauthz/betterauthz/jwks/internal/strictjson"
	"github.com/betterauthz/betterauthz/jwks/jws"
)

// Why a fetch failed. Each error from a fetch wraps exactly one of these.
var (
	// ErrFetchStatus: the JWKS answered with a status other than 200.
	ErrFetchStatus = errors.New("unexpected HTTP status")
	// ErrFetchRedirect: the JWKS answered with a redirect. Redirects are never followed: one
	// could lead to an http:// address or to another host's keys.
	ErrFetchRedirect = errors.New("redirects are not followed; set jwksURL to the final address")
	// ErrFetchTooLarge: the body exceeded MaxResponseBytes.
	ErrFetchTooLarge = errors.New("response too large")
	// ErrFetchInvalid: the body is not a usable JWKS.
	ErrFetchInvalid = errors.New("not a usable JSON Web Key Set")
	// ErrFetchUnreachable: no answer — connection refused or reset, DNS, TLS, timeout.
	ErrFetchUnreachable = errors.New("JWKS unreachable")
	// ErrFetchCAFile: the configured CA file could not be used.
	ErrFetchCAFile = errors.New("CA file unusable")
)

// StatusError is a JWKS answer other than 200. It wraps ErrFetchRedirect for a 3xx,
// ErrFetchStatus otherwise.
type StatusError struct {
	URL        string
	StatusCode int
	// Location is a redirect's target.
	Location string
}

func (e *StatusError) redirect() bool { return e.StatusCode >= 300 && e.StatusCode < 400 }

func (e *StatusError) Error() string {
	if e.redirect() {
		return fmt.Sprintf("GET %s: HTTP %d to %q: %v", e.URL, e.StatusCode, e.Location, ErrFetchRedirect)
	}
	return fmt.Sprintf("GET %s: HTTP %d: %v", e.URL, e.StatusCode, ErrFetchStatus)
}

func (e *StatusError) Unwrap() error {
	if e.redirect() {
		return ErrFetchRedirect
	}
	return ErrFetchStatus
}

// FetchOptions configure FetchSet; each zero value is the default of the Options field
// of the same name.
type FetchOptions struct {
	Client           *http.Client
	FetchTimeout     time.Duration
	MaxResponseBytes int64
	CAFile           string
}

// FetchSet downloads and parses a JWKS once, exactly as a KeySet's refresh does: bounded in time
// and size, redirects not followed, the body read by ParseSet. The error wraps one of the
// ErrFetch sentinels; a status other than 200 is a *StatusError.
func FetchSet(ctx context.Context, url string, o FetchOptions) (keys []jwkset.JWK, problems []error, err error) {
	ko := Options{URL: url, Client: o.Client, FetchTimeout: o.FetchTimeout, MaxResponseBytes: o.MaxResponseBytes}
	ko.setDefaults()
	f := newFetcher(url, o.CAFile, ko.Client, ko.MaxResponseBytes)
	ctx, cancel := context.WithTimeout(ctx, ko.FetchTimeout)
	defer cancel()
	got, problems, err := f.download(ctx, "", "")
	return got.keys, problems, err
}

// FetchFailure names the kind of a fetch error for metrics and logs: "status", "redirect",
// "too_large", "invalid", "unreachable", "ca_file" (or "" for nil).
func FetchFailure(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrFetchStatus):
		return "status"
	case errors.Is(err, ErrFetchRedirect):
		return "redirect"
	case errors.Is(err, ErrFetchTooLarge):
		return "too_large"
	case errors.Is(err, ErrFetchInvalid):
		return "invalid"
	case errors.Is(err, ErrFetchCAFile):
		return "ca_file"
	default:
		return "unreachable"
	}
}

// MinRSABits is the smallest RSA modulus accepted in a JWKS (RFC 7518 §3.3 requires 2048).
const MinRSABits = 2048

// fetcher downloads the JWKS. With a CA file, it re-reads the file before each fetch and builds
// a new client when its content changed, so a rotated CA (a cert-manager Secret, say) applies
// without a restart.
type fetcher struct {
	url      string
	maxBytes int64
	caFile   string

	mu     sync.Mutex
	client *http.Client
	caSum  [32]byte
}

func newFetcher(url, caFile string, client *http.Client, maxBytes int64) *fetcher {
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &fetcher{url: url, maxBytes: maxBytes, caFile: caFile, client: &c}
}

// httpClient is the client for the next fetch.
func (f *fetcher) httpClient() (*http.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.caFile == "" {
		return f.client, nil
	}
	pemBytes, err := os.ReadFile(f.caFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFetchCAFile, err)
	}
	sum := sha256.Sum256(pemBytes)
	if sum == f.caSum {
		return f.client, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrFetchCAFile, f.caFile)
	}
	base, _ := f.client.Transport.(*http.Transport)
	if base == nil {
		base, _ = http.DefaultTransport.(*http.Transport)
	}
	t := base.Clone()
	// Only this CA is trusted for the JWKS: the point of a private CA is that no public one
	// can vouch for Better Auth.
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c := *f.client
	c.Transport = t
	f.client, f.caSum = &c, sum
	return f.client, nil
}

// MaxKidHint is the longest kid a fetch names as ?kid= (a betterauthz relay refuses longer
// ones); a longer kid is fetched for without it.
const MaxKidHint = 256

// maxETagBytes bounds the ETag kept from an answer; a longer one is not kept.
const maxETagBytes = 256

// downloaded is one fetch's answer: keys and their ETag, or notModified (a 304 to etag).
type downloaded struct {
	keys        []jwkset.JWK
	etag        string
	notModified bool
}

// download fetches and parses the JWKS. problems lists keys that were skipped. kid, when not
// "", is the kid a caller waits for, sent as ?kid=; etag, when not "", is sent as
// If-None-Match, and a 304 then means the keys held are current.
func (f *fetcher) download(ctx context.Context, kid, etag string) (downloaded, []error, error) {
	var got downloaded
	client, err := f.httpClient()
	if err != nil {
		return got, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		return got, nil, fmt.Errorf("%w: build request: %w", ErrFetchUnreachable, err)
	}
	if kid != "" && len(kid) <= MaxKidHint {
		q := req.URL.Query()
		q.Set("kid", kid)
		req.URL.RawQuery = q.Encode()
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "betterauthz")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := client.Do(req)
	if err != nil {
		return got, nil, fmt.Errorf("GET %s: %w: %w", f.url, ErrFetchUnreachable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && etag != "" {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		got.notModified = true
		return got, nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return got, nil, &StatusError{URL: f.url, StatusCode: resp.StatusCode, Location: resp.Header.Get("Location")}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return got, nil, fmt.Errorf("GET %s: read body: %w: %w", f.url, ErrFetchUnreachable, err)
	}
	if int64(len(body)) > f.maxBytes {
		return got, nil, fmt.Errorf("GET %s: larger than %d bytes: %w", f.url, f.maxBytes, ErrFetchTooLarge)
	}
	keys, problems, err := ParseSet(body)
	if err != nil {
		return got, problems, fmt.Errorf("GET %s: %w: %w", f.url, ErrFetchInvalid, err)
	}
	got.keys = keys
	// Only a strong ETag names these exact bytes; a weak one is not sent back.
	if e := resp.Header.Get("ETag"); len(e) <= maxETagBytes && strings.HasPrefix(e, `"`) {
		got.etag = e
	}
	return got, problems, nil
}

// ParseSet parses a JWKS document. A key that cannot be used (unsupported type, bad
// parameters, no kid, use other than "sig", symmetric, RSA under MinRSABits) is skipped and
// reported in problems, as is a key repeated identically. A kid under which two different keys
// are listed is dropped whole — neither key is trusted, which one is meant would be a guess —
// and reported, while the rest of the set stays usable: an attacker who slips a key in beside a
// real one must not also stop a key rotation from being picked up. The set as a whole fails
// when it is not one JSON object, when a member name appears twice anywhere in it, or when it
// lists keys and none is usable. {"keys":[]} is a valid, empty set.
func ParseSet(data []byte) (keys []jwkset.JWK, problems []error, err error) {
	// A name twice anywhere — "keys", or "x" inside a key — makes the document mean different
	// keys to different parsers: refused whole.
	var rawKeys []byte
	err = strictjson.Walk(data, true, func(name, value []byte) error {
		if string(name) == "keys" {
			rawKeys = value
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	if rawKeys == nil {
		return nil, nil, errors.New(`not a JSON Web Key Set: no "keys" member`)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(rawKeys, &list); err != nil || bytes.Equal(bytes.TrimSpace(rawKeys), []byte("null")) {
		return nil, nil, errors.New(`not a JSON Web Key Set: "keys" is not a list`)
	}
	byKid := make(map[string]jwkset.JWK, len(list))
	var ambiguous map[string]bool // kids listed with two different keys
	for i, raw := range list {
		jwk, err := parseKey(raw)
		if err != nil {
			problems = append(problems, fmt.Errorf("keys[%d]: %w", i, err))
			continue
		}
		kid := jwk.Marshal().KID
		prev, dup := byKid[kid]
		switch {
		case !dup:
			byKid[kid] = jwk
			keys = append(keys, jwk)
		case ambiguous[kid] || !sameKey(prev, jwk):
			if ambiguous == nil {
				ambiguous = map[string]bool{}
			}
			ambiguous[kid] = true
			problems = append(problems, fmt.Errorf("keys[%d]: kid %q names two different keys: neither is trusted", i, kid))
		default:
			problems = append(problems, fmt.Errorf("keys[%d]: kid %q: duplicate kid (the same key again, ignored)", i, kid))
		}
	}
	if len(ambiguous) > 0 {
		keys = slices.DeleteFunc(keys, func(k jwkset.JWK) bool { return ambiguous[k.Marshal().KID] })
	}
	if len(list) > 0 && len(keys) == 0 {
		return nil, problems, fmt.Errorf("none of its %d keys is usable: %w", len(list), problems[0])
	}
	return keys, problems, nil
}

func parseKey(raw json.RawMessage) (jwkset.JWK, error) {
	var m jwkset.JWKMarshal
	if err := json.Unmarshal(raw, &m); err != nil {
		return jwkset.JWK{}, fmt.Errorf("not a JWK: %w", err)
	}
	switch {
	case m.KID == "":
		return jwkset.JWK{}, errors.New(`no "kid"`)
	case m.USE != "" && m.USE != jwkset.UseSig:
		return jwkset.JWK{}, fmt.Errorf("kid %q: use %q is not \"sig\"", m.KID, m.USE)
	case m.KTY == jwkset.KtyOct:
		return jwkset.JWK{}, fmt.Errorf("kid %q: symmetric keys are never trusted", m.KID)
	}
	// RFC 9864 names EdDSA over Ed25519 "Ed25519": one algorithm under two names.
	if m.ALG == jwkset.ALG(jws.AlgEd25519) {
		m.ALG = jwkset.AlgEdDSA
	}
	// Only public parameters are read: a JWKS that leaks private ones still yields a public key.
	m.D, m.P, m.Q, m.DP, m.DQ, m.QI, m.OTH = "", "", "", "", "", "", nil
	jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return jwkset.JWK{}, fmt.Errorf("kid %q: %w", m.KID, err)
	}
	if k, ok := jwk.Key().(*rsa.PublicKey); ok && k.N.BitLen() < MinRSABits {
		return jwkset.JWK{}, fmt.Errorf("kid %q: RSA key of %d bits is under %d", m.KID, k.N.BitLen(), MinRSABits)
	}
	return jwk, nil
}

// sameKey reports whether two JWKs are the same public key with the same algorithm.
func sameKey(a, b jwkset.JWK) bool {
	type equaler interface{ Equal(x crypto.PublicKey) bool }
	ka, ok := a.Key().(equaler)
	return ok && ka.Equal(b.Key()) && a.Marshal().ALG == b.Marshal().ALG
}
