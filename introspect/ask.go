package introspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/betterauthz/betterauthz/jwks"
)

// Bounds of the wait Better Auth asks for with a 429 (Retry-After, or its X-Retry-After).
const (
	minBackoff = time.Second
	maxBackoff = time.Minute
)

// ask calls the introspection endpoint about token and reads its answer, telling Observe the
// outcome.
func (in *Introspector) ask(token string) (jwks.Claims, time.Time, error) {
	claims, exp, outcome, err := in.call(token)
	in.o.Observe(outcome)
	return claims, exp, err
}

func (in *Introspector) call(token string) (jwks.Claims, time.Time, string, error) {
	secret, err := in.secret.get()
	if err != nil {
		// The last good secret stays in use (a Secret being rewritten, a file briefly gone).
		in.logf(logSecret, "introspection client secret file could not be re-read; the last good secret stays in use", "error", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), in.o.Timeout)
	defer cancel()
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	if in.o.PostSecret {
		form.Set("client_id", in.o.ClientID)
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.o.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return jwks.Claims{}, time.Time{}, OutcomeUnreachable, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "betterauthz")
	if !in.o.PostSecret {
		// RFC 6749 §2.3.1: both form-encoded, then Basic.
		req.SetBasicAuth(url.QueryEscape(in.o.ClientID), url.QueryEscape(secret))
	}
	client := in.o.Client
	if in.ca != nil {
		if client, err = in.ca.get(); err != nil {
			// The last good CAs stay in use (a Secret being rewritten, a file briefly gone).
			in.logf(logCA, "introspection CA file could not be re-read; the last good CAs stay in use", "error", err)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		// The url.Error's cause, without the method and URL it repeats.
		return jwks.Claims{}, time.Time{}, OutcomeUnreachable, fmt.Errorf("%w: %w", ErrUnavailable, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, in.o.MaxResponseBytes))
		return in.refused(resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, in.o.MaxResponseBytes+1))
	if err != nil {
		return jwks.Claims{}, time.Time{}, OutcomeUnreachable, fmt.Errorf("%w: reading the answer: %w", ErrUnavailable, err)
	}
	if int64(len(body)) > in.o.MaxResponseBytes {
		err := &invalidAnswer{fmt.Sprintf("the answer is larger than %d bytes", in.o.MaxResponseBytes)}
		in.logf(logAnswer, "introspection answer refused: Better Auth's answers are not trusted until this is fixed", "why", err.why)
		return jwks.Claims{}, time.Time{}, OutcomeInvalidAnswer, err
	}
	claims, exp, err := parseAnswer(body, in.o.Issuers, in.o.Now())
	var invalid *invalidAnswer
	switch {
	case err == nil:
		return claims, exp, OutcomeActive, nil
	case errors.As(err, &invalid):
		in.logf(logAnswer, "introspection answer refused: Better Auth's answers are not trusted until this is fixed", "why", invalid.why)
		return jwks.Claims{}, time.Time{}, OutcomeInvalidAnswer, err
	default:
		return jwks.Claims{}, time.Time{}, OutcomeInactive, err
	}
}

// refused classifies an answer other than 200.
func (in *Introspector) refused(resp *http.Response) (jwks.Claims, time.Time, string, error) {
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		wait := retryAfter(resp.Header)
		in.backoffUntil.Store(in.o.Now().Add(wait).UnixNano())
		return jwks.Claims{}, time.Time{}, OutcomeRateLimited, limited(wait)
	case http.StatusUnauthorized, http.StatusForbidden:
		in.logf(logClient, "Better Auth refused betterauthz's introspection client: check the client id, its secret file and its token endpoint auth method",
			"http_status", resp.StatusCode)
		return jwks.Claims{}, time.Time{}, OutcomeClientRejected,
			fmt.Errorf("%w: Better Auth refused the client credential (HTTP %d)", ErrUnavailable, resp.StatusCode)
	default:
		return jwks.Claims{}, time.Time{}, OutcomeStatus, fmt.Errorf("%w: introspection answered HTTP %d", ErrUnavailable, resp.StatusCode)
	}
}

// backoff is how long Better Auth's rate limit has yet to run at now (0: not in force).
func (in *Introspector) backoff(now time.Time) time.Duration {
	return max(time.Duration(in.backoffUntil.Load()-now.UnixNano()), 0)
}

// rateLimited is ErrUnavailable while Better Auth rate-limits introspection: nothing is asked
// until wait has passed.
type rateLimited struct{ wait time.Duration }

func limited(wait time.Duration) error { return &rateLimited{wait} }

func (e *rateLimited) Error() string {
	return fmt.Sprintf("%s: Better Auth rate-limited introspection (HTTP 429); not asking for %s", ErrUnavailable, e.wait.Round(time.Second))
}
func (e *rateLimited) Unwrap() error { return ErrUnavailable }

// RetryAfter is how long, from when err was returned, Introspect asks Better Auth nothing
// because it rate-limited introspection; 0 when err is no such refusal.
func RetryAfter(err error) time.Duration {
	var rl *rateLimited
	if errors.As(err, &rl) {
		return rl.wait
	}
	return 0
}

// retryAfter is the wait a 429 asks for, in seconds (Retry-After, else Better Auth's
// X-Retry-After), within minBackoff..maxBackoff.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		v = h.Get("X-Retry-After")
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return minBackoff
	}
	return min(max(time.Duration(n)*time.Second, minBackoff), maxBackoff)
}

// What is logged, each at most once a minute: a flood of tokens must not flood the log.
const (
	logClient = iota
	logAnswer
	logSecret
	logCA
	logKinds
)

const logEvery = time.Minute

type logLimiter [logKinds]atomic.Int64 // unix nanoseconds of the last line of each kind

// logf logs an error of a kind unless one was logged within logEvery. Every line names the
// resource and the client id; never the secret.
func (in *Introspector) logf(kind int, msg string, args ...any) {
	now := in.o.Now().UnixNano()
	last := in.logged[kind].Load()
	if last != 0 && now-last < int64(logEvery) || !in.logged[kind].CompareAndSwap(last, now) {
		return
	}
	in.o.Log.Error(msg, append([]any{"resource", in.o.Resource, "client_id", in.o.ClientID, "url", in.o.URL}, args...)...)
}
