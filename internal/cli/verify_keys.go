package cli

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/MicahParks/jwkset"

	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/jwks"
)

// keySource is the JWKS verify checks a token's signature with: the issuer's jwksURL, or --jwks.
type keySource struct {
	issuer   string // the issuer it stands for
	where    string // URL or file
	flag     bool   // from --jwks
	keys     []jwkset.JWK
	problems []error // keys skipped
	err      error   // could not be read (the checks that need keys then do not run)
	hints    []string
	set      *jwks.KeySet
}

// loadKeys reads the JWKS for issuer is. A --jwks file that cannot be read is a usage error;
// a JWKS that cannot be fetched or parsed is reported, with what to try instead.
func (f *verifyFlags) loadKeys(ctx context.Context, s *config.Settings, is config.Issuer) (*keySource, error) {
	k := &keySource{issuer: is.Name, where: is.JWKSURL}
	switch {
	case f.jwks == "":
		k.keys, k.problems, k.err = fetchKeys(ctx, is, k.where)
	case isHTTPURL(f.jwks):
		k.where, k.flag = f.jwks, true
		k.keys, k.problems, k.err = fetchKeys(ctx, is, k.where)
	default:
		k.where, k.flag = f.jwks, true
		data, err := os.ReadFile(f.jwks)
		if err != nil {
			return nil, &ExitError{Code: 2, Err: fmt.Errorf("--jwks: %w", err)}
		}
		k.keys, k.problems, k.err = jwks.ParseSet(data)
	}
	var err error
	if k.err != nil {
		k.hints = jwksHints(ctx, s, is, k)
		// Never run, so never loaded: the checks that need keys answer "not ready".
		k.set, err = jwks.NewKeySet(jwks.KeySetOptions{Name: is.Name, URL: k.where})
	} else {
		k.set, err = jwks.NewStaticKeySet(is.Name, k.keys)
	}
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	return k, nil
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// fetchKeys fetches a JWKS as serve's key set for issuer is does (its jwksCAFile included).
func fetchKeys(ctx context.Context, is config.Issuer, where string) ([]jwkset.JWK, []error, error) {
	o := jwks.FetchOptions{}
	if strings.HasPrefix(strings.ToLower(where), "https://") {
		o.CAFile = is.JWKSCAFile
	}
	return jwks.FetchSet(ctx, where, o)
}

// jwksHints says what to do about a JWKS that could not be read. Where Better Auth's own
// address (<origin><basePath>/jwks) differs from the one tried, it is tried too, and named
// when it answers with keys.
func jwksHints(ctx context.Context, s *config.Settings, is config.Issuer, k *keySource) []string {
	if !isHTTPURL(k.where) {
		return nil // a file: its error says what is wrong with it
	}
	var hints []string
	u, _ := url.Parse(k.where)
	var se *jwks.StatusError
	status := 0
	if errors.As(k.err, &se) {
		status = se.StatusCode
	}
	switch {
	case strings.HasSuffix(u.Path, "/.well-known/jwks.json") && (status == http.StatusNotFound || errors.Is(k.err, jwks.ErrFetchInvalid)):
		hints = append(hints, "Better Auth does not serve /.well-known/jwks.json (unless its jwks.jwksPath says so): its JWT plugin serves the JWKS at <basePath>/jwks, by default /api/auth/jwks")
	case status == http.StatusNotFound:
		hints = append(hints, "nothing is there: is Better Auth's JWT plugin (jwt()) on, and is basePath right? The JWKS is at <basePath>/jwks, by default /api/auth/jwks")
	case errors.Is(k.err, jwks.ErrFetchRedirect):
		hints = append(hints, fmt.Sprintf("it answers with a redirect to %q: betterauthz never follows redirects (one could lead to http:// or to another host's keys); use the final address", se.Location))
	case status >= 500:
		hints = append(hints, "Better Auth answered with an error: its log says why")
	case status != 0:
		hints = append(hints, "only a 200 with a JWKS will do: is this Better Auth's JWKS address?")
	case errors.Is(k.err, jwks.ErrFetchUnreachable):
		hints = append(hints, "nothing answered: is Better Auth running at this address, and is it the one serve reaches (from its pod)?")
	case errors.Is(k.err, jwks.ErrFetchInvalid):
		hints = append(hints, "the answer is not a usable JWKS: a page of your app, or a proxy's error page, at this address?")
	}
	right := strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + is.BasePath + "/jwks"
	if right == k.where || errors.Is(k.err, jwks.ErrFetchUnreachable) {
		return hints
	}
	keys, _, err := fetchKeys(ctx, is, right)
	if err != nil {
		return append(hints, fmt.Sprintf("Better Auth's JWKS would be at %s, but that fails too: %v", right, err))
	}
	use := "--jwks " + right
	if !k.flag {
		use = "jwksURL: " + right + " in the config, or leave jwksURL out"
	}
	return append(hints, fmt.Sprintf("%s answers with a JWKS of %s: use it (%s)", right, plural(len(keys), "key"), use))
}

// describeKey is a JWK as a person reads it: kid, algorithm, key type and size.
func describeKey(j jwkset.JWK) string {
	m := j.Marshal()
	kind := string(m.KTY)
	switch {
	case m.CRV != "":
		kind += " " + string(m.CRV)
	default:
		if k, ok := j.Key().(*rsa.PublicKey); ok {
			kind += " " + strconv.Itoa(k.N.BitLen()) + " bits"
		}
	}
	alg := string(m.ALG)
	if alg == "" {
		alg = "no alg"
	}
	return fmt.Sprintf("%q (%s, %s)", m.KID, alg, kind)
}

// keyFor is the key with kid, if the JWKS has it.
func (k *keySource) keyFor(kid string) (jwkset.JWK, bool) {
	if k == nil {
		return jwkset.JWK{}, false
	}
	for _, j := range k.keys {
		if j.Marshal().KID == kid {
			return j, true
		}
	}
	return jwkset.JWK{}, false
}

// skipped is why the JWKS's key kid was skipped, if it was.
func (k *keySource) skipped(kid string) (string, bool) {
	if k == nil {
		return "", false
	}
	for _, p := range k.problems {
		if strings.Contains(p.Error(), "kid "+strconv.Quote(kid)+":") {
			return p.Error(), true
		}
	}
	return "", false
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
