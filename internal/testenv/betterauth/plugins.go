package betterauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// This file drives the plugins a server started with StartOptions.Plugins has (see
// test/betterauth/plugins.mjs): organization (with teams), admin, anonymous, API key
// (enableSessionForAPIKeys) and the OAuth 2.1 provider configured for an MCP resource. Each
// function returns what Better Auth really issued.

// Session is what a signed-in browser holds, read after its last change (get-session past the
// cookie cache, then GET /token).
type Session struct {
	UserID    string `json:"userId"`
	Email     string `json:"email"`
	SessionID string `json:"sessionId"`
	// Cookie is the Cookie header the browser sends Better Auth: the session token and, with
	// the cookie cache on, the session-cache JWT.
	Cookie            string `json:"cookie"`
	SessionToken      string `json:"sessionToken"`      // opaque session token (bearer plugin)
	SessionCacheToken string `json:"sessionCacheToken"` // better-auth.session_data ("" without the cookie cache)
	Token             string `json:"token"`             // JWT from GET /api/auth/token
}

// UserOptions choose the user SignUp signs in.
type UserOptions struct {
	Email     string   `json:"email,omitempty"`     // default: a new user; an existing one signs in again
	Roles     []string `json:"role,omitempty"`      // admin plugin role, stored comma-joined
	Anonymous bool     `json:"anonymous,omitempty"` // sign in anonymously instead (anonymous plugin)
}

// SignUp signs a user up (or in again) through Better Auth's HTTP API.
func (s *Server) SignUp(o UserOptions) (*Session, error) {
	var out Session
	return &out, s.control("/__test/plugins/user", o, &out)
}

// Member is a user added to an organization with roles (stored comma-joined).
type Member struct {
	UserID string   `json:"userId"`
	Roles  []string `json:"roles"`
}

// Organization is an organization and the team it was created with.
type Organization struct {
	ID     string `json:"id"`
	Slug   string `json:"slug"`
	TeamID string `json:"teamId"`
}

// CreateOrganization has owner create an organization (owner becomes its "owner" member) and a
// team, and adds members to both.
func (s *Server) CreateOrganization(owner *Session, members ...Member) (*Organization, error) {
	var out Organization
	return &out, s.control("/__test/plugins/organization", map[string]any{"cookie": owner.Cookie, "members": members}, &out)
}

// SetActiveOrganization sets the session's active organization (and team, when teamID is not
// ""), as the browser does, and returns what it then holds. orgID "" clears it.
func (s *Server) SetActiveOrganization(sess *Session, orgID, teamID string) (*Session, error) {
	body := map[string]any{"cookie": sess.Cookie, "organizationId": nil, "teamId": teamID}
	if orgID != "" {
		body["organizationId"] = orgID
	}
	var out Session
	return &out, s.control("/__test/plugins/set-active", body, &out)
}

// SessionClaimsToken is the JWT GET /token gives sess on a deployment whose jwt.definePayload
// adds the session's activeOrganizationId and activeTeamId to the user.
func (s *Server) SessionClaimsToken(sess *Session) (string, error) {
	var out struct{ Token string }
	return out.Token, s.control("/__test/plugins/session-token", map[string]any{"cookie": sess.Cookie}, &out)
}

// Impersonate has admin impersonate a user (admin plugin) and returns the session the admin's
// browser then holds.
func (s *Server) Impersonate(admin *Session, userID string) (*Session, error) {
	var out Session
	return &out, s.control("/__test/plugins/impersonate", map[string]any{"cookie": admin.Cookie, "userId": userID}, &out)
}

// BanUser has admin ban a user (admin plugin's banUser: banned, banExpires when expiresIn > 0,
// and all their sessions deleted).
func (s *Server) BanUser(admin *Session, userID string, expiresIn time.Duration) error {
	return s.control("/__test/plugins/ban", map[string]any{
		"cookie": admin.Cookie, "userId": userID, "banExpiresIn": int(expiresIn.Seconds()),
	}, nil)
}

// SetCookieCacheVersion sets session.cookieCache.version (default "1").
func (s *Server) SetCookieCacheVersion(v string) error {
	return s.control("/__test/plugins/cookie-cache-version", map[string]any{"version": v}, nil)
}

// APIKeyOptions choose an API key. Zero values are the plugin's defaults (owned by the user,
// no quota, 10 requests a day).
type APIKeyOptions struct {
	OrganizationID string `json:"organizationId,omitempty"` // owned by this organization instead
	Remaining      *int   `json:"remaining,omitempty"`      // quota
	RateLimitMax   int    `json:"rateLimitMax,omitempty"`   // requests per rate-limit window (a day)
}

// APIKey is a key as created: Key is shown once.
type APIKey struct {
	ID          string `json:"id"`
	Key         string `json:"key"`
	ReferenceID string `json:"referenceId"` // owner: user or organization id
}

// CreateAPIKey creates an API key as owner (for an organization owner can create keys of).
// A user's key is sent in x-api-key; an organization's in x-org-api-key.
func (s *Server) CreateAPIKey(owner *Session, o APIKeyOptions) (*APIKey, error) {
	body := map[string]any{"cookie": owner.Cookie}
	b, _ := json.Marshal(o)
	_ = json.Unmarshal(b, &body)
	var out APIKey
	return &out, s.control("/__test/plugins/api-key", body, &out)
}

// AuthURL is Better Auth's base URL with its base path: the OAuth provider's issuer.
func (s *Server) AuthURL() string { return s.BaseURL + "/api/auth" }

// APIResource and MCPResource are the resources (audiences) OAuth tokens can be asked for; the
// MCP one is protected by Better Auth's MCP helper at MCPURL.
func (s *Server) APIResource() string { return origin(s.BaseURL) + "/api" }
func (s *Server) MCPResource() string { return origin(s.BaseURL) + "/mcp" }
func (s *Server) MCPURL() string      { return s.URL + "/mcp" }

func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Scheme + "://" + p.Host
}

// OAuthClient is a confidential OAuth client (client_secret_basic).
type OAuthClient struct {
	ID          string `json:"clientId"`
	Secret      string `json:"clientSecret"`
	RedirectURI string `json:"redirectUri"`
}

// OAuthClientOptions choose a client. Resources nil links it to both resources; an empty list
// to none.
type OAuthClientOptions struct {
	Resources []string `json:"resources"`
	DPoPBound bool     `json:"dpopBoundAccessTokens,omitempty"` // dpop_bound_access_tokens
}

// RegisterOAuthClient registers a client as an admin: authorization_code with PKCE,
// client_credentials (scopes read:tasks write:tasks) and refresh_token.
func (s *Server) RegisterOAuthClient(o OAuthClientOptions) (*OAuthClient, error) {
	var out OAuthClient
	return &out, s.control("/__test/plugins/oauth-client", o, &out)
}

// TokenRequest is a request to POST /oauth2/token.
type TokenRequest struct {
	// AuthorizationCode asks for User through the authorization code flow (authorize, consent,
	// code exchange with PKCE) instead of client_credentials.
	AuthorizationCode bool
	User              *Session
	Resource          []string // RFC 8707 resource(s): a JWT access token; none: opaque
	Scope             string   // default: the client's client_credentials scopes, or "openid read:tasks"
	DPoP              bool     // bind the token to a new DPoP key
}

// OAuthToken is a token response.
type OAuthToken struct {
	AccessToken  string   `json:"access_token"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    int      `json:"expires_in"`
	Scope        string   `json:"scope"`
	RefreshToken string   `json:"refresh_token"`
	IDToken      string   `json:"id_token"`
	DPoPKey      *DPoPKey `json:"dpopKey"`
}

// OAuthToken obtains an access token for c.
func (s *Server) OAuthToken(c *OAuthClient, r TokenRequest) (*OAuthToken, error) {
	body := map[string]any{"clientId": c.ID, "clientSecret": c.Secret, "redirectUri": c.RedirectURI, "dpop": r.DPoP}
	if r.AuthorizationCode {
		if r.User == nil {
			return nil, fmt.Errorf("betterauth: the authorization code flow needs a user")
		}
		body["grant"], body["cookie"] = "authorization_code", r.User.Cookie
	}
	if len(r.Resource) > 0 {
		body["resource"] = r.Resource
	}
	if r.Scope != "" {
		body["scope"] = r.Scope
	}
	var out struct {
		OAuthToken
		Status int             `json:"status"`
		Error  json.RawMessage `json:"error"`
	}
	if err := s.control("/__test/plugins/oauth-token", body, &out); err != nil {
		return nil, err
	}
	if out.Status != 200 {
		return nil, fmt.Errorf("betterauth: POST /oauth2/token: HTTP %d: %s", out.Status, out.Error)
	}
	return &out.OAuthToken, nil
}

// Introspect asks POST /oauth2/introspect about token, authenticated as c (client_secret_basic).
func (s *Server) Introspect(c *OAuthClient, token string) (map[string]any, error) {
	req, err := http.NewRequest(http.MethodPost, s.URL+"/api/auth/oauth2/introspect",
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("betterauth: POST /oauth2/introspect: HTTP %d: %s", resp.StatusCode, b)
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}

// Revoke revokes an access token at POST /oauth2/revoke (RFC 7009), authenticated as c, the
// client it was issued to (client_secret_basic).
func (s *Server) Revoke(c *OAuthClient, token string) error {
	req, err := http.NewRequest(http.MethodPost, s.URL+"/api/auth/oauth2/revoke",
		strings.NewReader(url.Values{"token": {token}, "token_type_hint": {"access_token"}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("betterauth: POST /oauth2/revoke: HTTP %d: %s", resp.StatusCode, b)
	}
	return nil
}

// DPoPKey is the P-256 key an access token is bound to (RFC 9449), read from its private JWK.
type DPoPKey struct {
	key *ecdsa.PrivateKey
}

// UnmarshalJSON reads a private EC P-256 JWK.
func (k *DPoPKey) UnmarshalJSON(b []byte) error {
	var jwk struct{ Kty, Crv, X, Y, D string }
	if err := json.Unmarshal(b, &jwk); err != nil {
		return err
	}
	if jwk.Kty != "EC" || jwk.Crv != "P-256" {
		return fmt.Errorf("betterauth: DPoP key %s %s, want EC P-256", jwk.Kty, jwk.Crv)
	}
	d, err := base64.RawURLEncoding.DecodeString(jwk.D)
	if err != nil {
		return err
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		return err
	}
	k.key = priv
	return nil
}

func (k *DPoPKey) publicJWK() map[string]string {
	b, _ := k.key.PublicKey.Bytes() // 0x04 || X || Y
	enc := base64.RawURLEncoding.EncodeToString
	return map[string]string{"crv": "P-256", "kty": "EC", "x": enc(b[1:33]), "y": enc(b[33:])}
}

// JKT is the key's JWK SHA-256 thumbprint (RFC 7638): the cnf.jkt of tokens bound to it.
func (k *DPoPKey) JKT() string {
	j := k.publicJWK()
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + j["x"] + `","y":"` + j["y"] + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Proof is a DPoP proof JWT for a request to method and url presenting accessToken (its ath;
// none when accessToken is "").
func (k *DPoPKey) Proof(method, url, accessToken string) (string, error) {
	header, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": k.publicJWK()})
	claims := map[string]any{"jti": uuid.NewString(), "htm": method, "htu": url, "iat": time.Now().Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	payload, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	r, sv, err := ecdsa.Sign(rand.Reader, k.key, digest[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
