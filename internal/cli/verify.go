package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"

	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/jwks"
)

// verifyFlags are verify's flags.
type verifyFlags struct {
	token, url, jwks, config string
}

const verifyUsage = `Usage: betterauthz verify --token JWT|- [--url BETTER_AUTH_URL | --jwks URL|FILE] [--config FILE]

Checks one token the way betterauthz serve would, step by step — form, header, typ, iss, alg,
kid, signature, aud, exp, nbf, iat — says why it fails and how to fix the usual mistakes. The
token's signature is never printed. Exit code 0: valid, 1: invalid, 2: usage, or an input
(config, JWKS) that cannot be read.
`

// verify explains whether serve would accept a token, check by check, with the fix for each
// failure a user can act on. The verdict is the jwks Verifier's, built from the settings as
// serve builds it.
func verify(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("betterauthz verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f verifyFlags
	fs.StringVar(&f.token, "token", "", `the token (a JWT) to check; "-" reads it from stdin, keeping it out of ps and the shell's history`)
	fs.StringVar(&f.url, "url", "", "Better Auth's base URL (as BETTER_AUTH_URL): issuer, audience and JWKS follow from it as in serve (default: the config's issuers, else $BETTER_AUTH_URL, else "+config.DefaultBetterAuthURL+")")
	fs.StringVar(&f.jwks, "jwks", "", "the JWKS to check the signature with instead of the issuer's: an http(s) URL, or a file (offline)")
	fs.StringVar(&f.config, "config", "", `betterauthz config file ("-": stdin): its issuers, audiences, algorithms and clockSkew`)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), verifyUsage+"\n")
		fs.PrintDefaults()
	}
	if err := parseFlagsAndArgs(fs, args, getenv, stdout); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 1 && strings.EqualFold(f.token, "bearer"):
		f.token += " " + fs.Arg(0) // --token Bearer eyJ…, unquoted
	case fs.NArg() > 0:
		// Never quoted: it is most likely a token.
		return &ExitError{Code: 2, Err: fmt.Errorf("verify: %s after the flags (not shown: it may be a token); pass the token with --token, or --token - to read it from stdin", plural(fs.NArg(), "unexpected argument"))}
	}
	raw, err := f.readToken(stdin)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	s, from, err := f.settings(getenv, stdin)
	if err != nil {
		return err
	}
	token, notes := cleanToken(raw)

	r := &report{w: stdout, s: s}
	r.trusted(from)
	for _, n := range notes {
		r.line("note", "input", n)
	}
	// Which issuer's keys the token needs follows from its iss: a first pass with no keys
	// says, so that only those are fetched (a token names one issuer, and only its keys count).
	probe, err := explain(ctx, s, nil, token)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	var keys *keySource
	if !probe.Claims.IsZero() && probe.Trust != "" {
		is, _ := s.IssuerNamed(probe.Trust)
		if keys, err = f.loadKeys(ctx, s, is); err != nil {
			return err
		}
		r.keys(keys)
	}
	e, err := explain(ctx, s, keys, token)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	r.explain(e, keys, token == "")
	return r.verdict(e, keys)
}

// explain runs the Verifier serve would build from s on token, each issuer with no keys but
// the one keys stands for.
func explain(ctx context.Context, s *config.Settings, keys *keySource, token string) (jwks.Explanation, error) {
	sets := map[string]*jwks.KeySet{}
	for _, is := range s.Issuers {
		if keys != nil && keys.issuer == is.Name {
			sets[is.Name] = keys.set
			continue
		}
		set, err := jwks.NewStaticKeySet(is.Name, nil)
		if err != nil {
			return jwks.Explanation{}, err
		}
		sets[is.Name] = set
	}
	o := s.TokenVerifier(func(name string) *jwks.KeySet { return sets[name] })
	if jwks.IsAccessToken(token) {
		// An OAuth access token: verified as serve verifies those (its aud is the route's).
		o = s.AccessTokenVerifier(func(name string) *jwks.KeySet { return sets[name] })
	}
	o.CacheEntries = 0
	v, err := jwks.NewVerifier(o)
	if err != nil {
		return jwks.Explanation{}, err
	}
	return v.Explain(ctx, token), nil
}

// readToken is --token, or stdin for "-".
func (f *verifyFlags) readToken(stdin io.Reader) (string, error) {
	switch f.token {
	case "":
		return "", errors.New(`verify: --token is required ("--token -" reads it from stdin)`)
	case "-":
		if f.config == "-" {
			return "", errors.New("verify: --token - and --config - cannot both read stdin")
		}
		if stdin == nil {
			return "", errors.New("verify: --token -: no standard input")
		}
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
		if err != nil {
			return "", fmt.Errorf("verify: read the token from stdin: %w", err)
		}
		if strings.TrimSpace(string(b)) == "" {
			return "", errors.New("verify: --token -: stdin is empty")
		}
		return string(b), nil
	default:
		return f.token, nil
	}
}

// settings are the config serve would run with: --config's, else the defaults with --url (or
// $BETTER_AUTH_URL) as Better Auth's URL. from says where the issuers came from.
func (f *verifyFlags) settings(getenv func(string) string, stdin io.Reader) (*config.Settings, string, error) {
	env := getenv
	if f.url != "" {
		if u, err := url.Parse(f.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, "", &ExitError{Code: 2, Err: fmt.Errorf("--url %q: want Better Auth's base URL, like https://auth.example.com", f.url)}
		}
		env = func(k string) string {
			if k == "BETTER_AUTH_URL" {
				return f.url
			}
			return getenv(k)
		}
	}
	var data []byte
	from := "--url " + f.url
	switch {
	case f.config != "":
		var err error
		if data, err = readConfig(f.config, stdin); err != nil {
			return nil, "", &ExitError{Code: 2, Err: fmt.Errorf("--config: %w", err)}
		}
		from = "--config " + f.config
	case f.url != "":
	case getenv("BETTER_AUTH_URL") != "":
		from = "$BETTER_AUTH_URL"
	default:
		from = "the default, " + config.DefaultBetterAuthURL + ": no --url, --config or $BETTER_AUTH_URL"
	}
	s, err := config.Parse(data, env)
	if err != nil {
		var msgs []string
		for _, p := range config.Problems(err) {
			msgs = append(msgs, p.Error())
		}
		return nil, "", &ExitError{Code: 2, Err: fmt.Errorf("%s: %s", from, strings.Join(msgs, "; "))}
	}
	if f.config != "" && f.url != "" && (len(s.Issuers) != 1 || s.Issuers[0].BetterAuthURL != f.url) {
		return nil, "", &ExitError{Code: 2, Err: fmt.Errorf("--url %s and --config %s name different Better Auths (the config's: %s): drop one", f.url, f.config, describeIssuers(s.Issuers))}
	}
	return s, from, nil
}

// cookieName matches a pasted "name=" of Better Auth's session cookies.
var cookieName = regexp.MustCompile(`^(__Secure-)?[A-Za-z0-9._-]*\.(session_token|session_data)(\.\d+)?=`)

// cleanToken takes off what often comes pasted with a token — quotes, "Authorization:",
// "Bearer ", a cookie's name — and says what it took off.
func cleanToken(raw string) (string, []string) {
	tok := strings.TrimSpace(raw)
	var notes []string
	if len(tok) >= 2 && (tok[0] == '"' || tok[0] == '\'') && tok[len(tok)-1] == tok[0] {
		tok = strings.TrimSpace(tok[1 : len(tok)-1])
		notes = append(notes, "the value was in quotes; the quotes are not part of the token, and were left out")
	}
	if len(tok) > 14 && strings.EqualFold(tok[:14], "authorization:") {
		tok = strings.TrimSpace(tok[14:])
		notes = append(notes, `the value began with "Authorization:", the header's name; what follows it was checked`)
	}
	bearers := 0
	for len(tok) > 7 && strings.EqualFold(tok[:6], "bearer") && (tok[6] == ' ' || tok[6] == '\t') {
		tok = strings.TrimSpace(tok[7:])
		bearers++
	}
	switch {
	case bearers == 1:
		notes = append(notes, `the value began with "Bearer ": that is the Authorization header's scheme, not part of the token; what follows it was checked. Send "Authorization: Bearer <token>" with the prefix once: a client that adds it to a value that already has it sends "Bearer Bearer …", which is refused`)
	case bearers > 1:
		notes = append(notes, fmt.Sprintf(`the value began with "Bearer " %d times: a client that adds the prefix to a value that already has it sends this, and it is refused (401). Send "Authorization: Bearer <token>" with the prefix once; what follows was checked`, bearers))
	}
	if m := cookieName.FindString(tok); m != "" {
		tok = tok[len(m):]
		name := strings.TrimSuffix(m, "=")
		if strings.Contains(name, "session_data") {
			notes = append(notes, fmt.Sprintf("the value began with the cookie name %s=; its value was checked", name))
		} else {
			notes = append(notes, fmt.Sprintf("the value began with the cookie name %s=: that cookie holds Better Auth's session token, not a JWT; its value was checked", name))
		}
		if u, err := url.QueryUnescape(tok); err == nil && u != tok {
			tok = u
		}
	}
	return tok, notes
}
