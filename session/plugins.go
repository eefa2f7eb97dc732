package session

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Two more questions for Better Auth, resolved like session tokens (coalesced, capped, cached):
// an API key (@better-auth/api-key with enableSessionForAPIKeys answers get-session for it)
// and a session's role in an organization (the organization plugin's
// get-active-member-role). Cache keys are SHA-256 sums of what was asked, each kind under its
// own prefix: the cache never holds a key or a token.

// APIKey resolves an API key sent in header (x-api-key) through get-session. Its owner's
// session is cached for APIKeyTTL; a refusal (unknown, expired, disabled, organization-owned
// key) and a rate limit for RefusedTTL. Better Auth counts every call against the key's rate
// limit and quota.
func (l *Lookup) APIKey(ctx context.Context, header, key string) (*Session, error) {
	sum := sha256.Sum256([]byte("api-key\x00" + header + "\x00" + key))
	return l.resolve(ctx, sum, l.o.APIKeyTTL, func() (*Session, error) {
		status, body, err := l.get(l.o.URL, header, key)
		switch {
		case err != nil:
			return nil, err
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return nil, fmt.Errorf("%w: get-session refused the API key (HTTP %d)", ErrNoSession, status)
		case status == http.StatusTooManyRequests:
			return nil, ErrRateLimited
		case status != http.StatusOK:
			return nil, fmt.Errorf("%w: get-session answered HTTP %d", ErrUnavailable, status)
		}
		// The answer's session.token is the key itself: Claims leaves it out. No cookies.
		return parseAnswer(body, nil)
	})
}

// MemberRole asks for the role in organization organizationID of the session whose token came
// in cookie cookieName: comma-joined roles, "" when the session is no member (or has no
// active organization). It is cached for TTL, like a session.
func (l *Lookup) MemberRole(ctx context.Context, cookieName, token, organizationID, userID string) (string, error) {
	sum := sha256.Sum256([]byte("member-role\x00" + cookieName + "=" + token + "\x00" + organizationID + "\x00" + userID))
	s, err := l.resolve(ctx, sum, l.o.TTL, func() (*Session, error) {
		u := l.o.MemberRoleURL + "?organizationId=" + url.QueryEscape(organizationID) + "&userId=" + url.QueryEscape(userID)
		status, body, err := l.get(u, "Cookie", cookieName+"="+token)
		switch {
		case err != nil:
			return nil, err
		case status == http.StatusUnauthorized:
			return nil, fmt.Errorf("%w: get-active-member-role found no session", ErrNoSession)
		case status == http.StatusBadRequest || status == http.StatusForbidden:
			// NO_ACTIVE_ORGANIZATION, YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION: no role.
			return &Session{}, nil
		case status != http.StatusOK:
			return nil, fmt.Errorf("%w: get-active-member-role answered HTTP %d", ErrUnavailable, status)
		}
		return parseRole(body)
	})
	if err != nil {
		return "", err
	}
	return s.Role, nil
}

// parseRole reads get-active-member-role's {"role": "admin,member"}.
func parseRole(body []byte) (*Session, error) {
	var answer struct {
		Role *string `json:"role"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.Role == nil {
		return nil, fmt.Errorf("%w: get-active-member-role's answer has no role", ErrUnavailable)
	}
	return &Session{Role: *answer.Role}, nil
}

// get asks Better Auth: GET u with one credential header, within Timeout. The answer's body is
// read up to MaxResponseBytes.
func (l *Lookup) get(u, header, value string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set(header, value)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "betterauthz")
	resp, err := l.o.Client.Do(req)
	if err != nil {
		// The URL error names the URL, never the header: the credential stays out of it.
		return 0, nil, fmt.Errorf("%w: %w", ErrUnavailable, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, l.o.MaxResponseBytes+1))
	if err != nil || int64(len(body)) > l.o.MaxResponseBytes {
		return 0, nil, fmt.Errorf("%w: Better Auth's answer unreadable or too large", ErrUnavailable)
	}
	return resp.StatusCode, body, nil
}
