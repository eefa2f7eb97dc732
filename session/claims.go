package session

import (
	"errors"
	"maps"

	"github.com/betterauthz/betterauthz/jwks"
)

var errNoUser = errors.New("session has no user")

// CookieCacheVersionClaim holds, in the claims of a session-cache cookie, the cookie's version
// (Better Auth's session.cookieCache.version). Names starting with @ are betterauthz's own.
const CookieCacheVersionClaim = "@cookieCacheVersion"

// Claims is the view rules and identity headers read of a Better Auth session, alike for the
// session-cache cookie and for get-session's answer: the user object's fields at top level,
// sub (the user id), and session — the session object without its token. A session token is
// never a claim (nor a header, nor a log line): it is a credential. The rest of the payload
// (the JWT's sid, which repeats the token, its iss, aud, exp, …) is left out too.
func Claims(payload map[string]any) (jwks.Claims, error) {
	user, ok := payload["user"].(map[string]any)
	if !ok {
		return jwks.Claims{}, errNoUser
	}
	c := make(map[string]any, len(user)+2)
	maps.Copy(c, user)
	if id, ok := user["id"].(string); ok && id != "" {
		c["sub"] = id
	} else if sub, ok := payload["sub"].(string); ok {
		c["sub"] = sub
	} else {
		return jwks.Claims{}, errNoUser
	}
	if s, ok := payload["session"].(map[string]any); ok {
		view := make(map[string]any, len(s))
		for k, v := range s {
			if k != "token" {
				view[k] = v
			}
		}
		c["session"] = view
	}
	if v, ok := payload["version"].(string); ok {
		c[CookieCacheVersionClaim] = v
	}
	return jwks.ClaimsFromMap(c)
}
