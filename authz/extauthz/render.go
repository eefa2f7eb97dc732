package extauthz

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"

	"github.com/betterauthz/betterauthz/authz"
)

// Render turns a decision into Envoy's answer.
//
// Allowed: identity headers are set with OVERWRITE_IF_EXISTS_OR_ADD (with neither append nor
// append_action set, Envoy appends, and a client's own x-user-id would reach the upstream next
// to ours) and every identity header not set is in headers_to_remove, as is the underscore
// spelling of every identity header (x_user_id, which a CGI or WSGI upstream reads as
// x-user-id: Envoy passes it on unless headers_with_underscores_action drops it).
//
// Denied: the HTTP status from the outcome table, a JSON body, and WWW-Authenticate,
// Retry-After or (a sign-in redirect) Location where they apply.
func Render(d *authz.Decision) *authv3.CheckResponse {
	if d.Allowed() {
		return new(answer).allow(d)
	}
	return deny(d)
}

// answerHeaders is how many identity headers an answer holds in its own block (as many as an
// authz.Scratch); more are allocated apart.
const answerHeaders = 4

// answer is the messages an allowed CheckResponse is made of, allocated as one block: every
// allowed check answers with them.
type answer struct {
	resp   authv3.CheckResponse
	status status.Status
	ok     authv3.CheckResponse_OkResponse
	okResp authv3.OkHttpResponse
	ptrs   [answerHeaders]*corev3.HeaderValueOption
	opts   [answerHeaders]corev3.HeaderValueOption
	vals   [answerHeaders]corev3.HeaderValue
	// removes holds headers_to_remove when the identity headers' removals and their underscore
	// spellings fit.
	removes [2 * answerHeaders]string
}

// render answers d, in a's block when d allows the request.
func (a *answer) render(d *authz.Decision) *authv3.CheckResponse {
	if d.Allowed() {
		return a.allow(d)
	}
	return deny(d)
}

func (a *answer) allow(d *authz.Decision) *authv3.CheckResponse {
	ok := &a.okResp
	ok.HeadersToRemove = d.Remove
	if len(d.Underscored) > 0 {
		remove := a.removes[:0]
		if n := len(d.Remove) + len(d.Underscored); n > len(a.removes) {
			remove = make([]string, 0, n)
		}
		ok.HeadersToRemove = append(append(remove, d.Remove...), d.Underscored...)
	}
	if n := len(d.Set); n > 0 {
		ptrs, opts, vals := a.ptrs[:0], a.opts[:0], a.vals[:0]
		if n > answerHeaders {
			ptrs, opts, vals = make([]*corev3.HeaderValueOption, 0, n), make([]corev3.HeaderValueOption, 0, n), make([]corev3.HeaderValue, 0, n)
		}
		opts, vals = opts[:n], vals[:n]
		for i, h := range d.Set {
			vals[i].Key, vals[i].Value = h.Name, h.Value
			opts[i].Header = &vals[i]
			opts[i].AppendAction = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
			ptrs = append(ptrs, &opts[i])
		}
		ok.Headers = ptrs
	}
	for _, h := range d.ResponseHeaders {
		// Set-Cookie headers are several: appended, never overwriting one another.
		ok.ResponseHeadersToAdd = append(ok.ResponseHeadersToAdd, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: h.Name, Value: h.Value},
			AppendAction: corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD,
		})
	}
	a.status.Code = int32(d.Code())
	a.ok.OkResponse = ok
	a.resp.Status, a.resp.HttpResponse = &a.status, &a.ok
	return &a.resp
}

func deny(d *authz.Decision) *authv3.CheckResponse {
	headers := []*corev3.HeaderValueOption{
		overwrite("content-type", "application/json"),
		overwrite("cache-control", "no-store"),
	}
	if c := d.Challenge(); c != "" {
		headers = append(headers, overwrite("www-authenticate", c))
	}
	if ra := d.RetryAfter(); ra != "" {
		headers = append(headers, overwrite("retry-after", ra))
	}
	if d.Location != "" {
		headers = append(headers, overwrite("location", d.Location))
	}
	return &authv3.CheckResponse{
		Status: &status.Status{Code: int32(d.Code()), Message: d.StatusMessage()},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(d.HTTPStatus())},
			Headers: headers,
			Body:    d.Body(),
		}},
	}
}

func overwrite(name, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: name, Value: value},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}
