package authz

// Better Auth's session cookies, as a request carries them.

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

var errCookieTwice = errors.New("a session cookie was sent more than once")

// sessionCookies are Better Auth's cookies found in a request.
type sessionCookies struct {
	data      string // the session-cache JWT, chunks joined; "" if absent
	tokenName string // the session token cookie's name, as sent
	token     string // its value, as sent; "" if absent
}

// readCookies finds the session cookies in the request's Cookie headers. The __Secure- name
// wins over the plain one; a name sent twice makes the credential ambiguous, and is refused.
func (b *Browser) readCookies(r *Request) (sessionCookies, error) {
	values := r.Values("cookie")
	if len(values) == 0 {
		return sessionCookies{}, nil
	}
	jar := cookieJar{}
	for _, v := range values {
		jar.parse(v, b.CookiePrefix)
	}
	var out sessionCookies
	for _, prefix := range b.namePrefixes() {
		if out.data == "" {
			data, err := jar.joined(prefix + ".session_data")
			if err != nil {
				return sessionCookies{}, err
			}
			out.data = data
		}
		if out.token == "" {
			tok, err := jar.one(prefix + ".session_token")
			if err != nil {
				return sessionCookies{}, err
			}
			if tok != "" {
				out.tokenName, out.token = prefix+".session_token", tok
			}
		}
	}
	return out, nil
}

func (b *Browser) namePrefixes() []string {
	if b.SecureOnly {
		return []string{"__Secure-" + b.CookiePrefix}
	}
	return []string{"__Secure-" + b.CookiePrefix, b.CookiePrefix}
}

// cookieJar is a request's cookies whose names start with Better Auth's prefix (the others are
// none of betterauthz's business), each name with all the values it was sent with.
type cookieJar map[string][]string

// parse adds the cookies of one Cookie header value, "a=b; c=d", whose names contain prefix.
// Repeated Cookie headers may arrive joined with "," (Envoy's headers map): a cookie value
// never holds a "," or a ";" (RFC 6265, cookie-octet), so both separate cookies.
func (j cookieJar) parse(header, prefix string) {
	for part := range strings.FieldsFuncSeq(header, func(r rune) bool { return r == ';' || r == ',' }) {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.Contains(name, prefix) {
			continue
		}
		j[name] = append(j[name], strings.Trim(value, `"`))
	}
}

// one is a cookie's only value ("" if absent).
func (j cookieJar) one(name string) (string, error) {
	switch vs := j[name]; len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	default:
		return "", errCookieTwice
	}
}

// joined is a cookie that Better Auth may split in chunks above 4 KB — name.0, name.1, … —
// joined in index order; the unsplit name wins when it is present.
func (j cookieJar) joined(name string) (string, error) {
	if v, err := j.one(name); v != "" || err != nil {
		return unescapeCookie(v), err
	}
	var b strings.Builder
	for i := 0; ; i++ {
		v, err := j.one(name + "." + strconv.Itoa(i))
		if err != nil {
			return "", err
		}
		if v == "" {
			break
		}
		b.WriteString(v)
	}
	return unescapeCookie(b.String()), nil
}

// unescapeCookie undoes the percent-encoding Better Auth applies to cookie values.
func unescapeCookie(v string) string {
	if !strings.Contains(v, "%") {
		return v
	}
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}
