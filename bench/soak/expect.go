package main

import (
	"fmt"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/betterauthz/betterauthz/internal/testenv/faultjwks"
)

// What each kind of token must get. betterauthz refuses JWKS redirects and RSA keys under 2048
// bits, and trusts neither key of a kid a set lists with two different keys (the rest of the
// set it does).

// kind is a kind of token the load sends.
type kind int

const (
	kindValid     kind = iota // Better Auth's own token, its key established or new
	kindRotated               // a token of the newest key (minted after the last Rotate)
	kindExpired               // minted with expirationTime "-10m"
	kindTampered              // a valid token with its payload changed
	kindBogus                 // a valid token's payload and signature under a kid nobody has
	kindAttacker              // signed by the fault server's attacker key, under its own kid
	kindCollision             // signed by the attacker key under a real kid (the first one)
	kindWeakRSA               // signed by the 1024-bit RSA key that UnsupportedBeside lists
	numKinds
)

var kindNames = [numKinds]string{"valid", "rotated", "expired", "tampered", "bogus-kid", "attacker-key", "kid-collision", "rsa-1024"}

func (k kind) String() string { return kindNames[k] }

// answer is what betterauthz said, read from a CheckResponse (or a gRPC error).
type answer struct {
	outcome string // "OK", "401 unknown_key", "deadline exceeded", ...: for counting
	allowed bool
	reason  string // the status message's code, "allowed" when allowed
	subject string // the x-user-id header set on allow
	// deadline: the 2 s check deadline passed first (the client gave up, as Envoy would).
	deadline bool
	// problem is set when the answer contradicts itself or is no CheckResponse at all.
	problem string
}

// reasonAnswers is betterauthz's outcome table as a client sees it: gRPC code and HTTP status
// per reason code.
var reasonAnswers = map[string]struct {
	code codes.Code
	http int
}{
	"missing_token": {codes.Unauthenticated, 401}, "invalid_token": {codes.Unauthenticated, 401},
	"expired": {codes.Unauthenticated, 401}, "unknown_key": {codes.Unauthenticated, 401},
	"insufficient_claims": {codes.PermissionDenied, 403}, "policy_denied": {codes.PermissionDenied, 403},
	"not_ready": {codes.Unavailable, 503}, "keys_unavailable": {codes.Unavailable, 503},
	"timeout": {codes.Unavailable, 503}, "bad_request": {codes.InvalidArgument, 400},
	"invalid_route_policy": {codes.Internal, 500}, "internal_error": {codes.Internal, 500},
}

// readAnswer turns betterauthz's reply into an answer.
func readAnswer(resp *authv3.CheckResponse, err error) answer {
	if err != nil {
		if status.Code(err) == codes.DeadlineExceeded {
			return answer{outcome: "deadline exceeded", deadline: true}
		}
		// Every outcome must be a CheckResponse (the contract): an error is always wrong.
		return answer{outcome: "gRPC error " + status.Code(err).String(), problem: "a gRPC error instead of a CheckResponse: " + err.Error()}
	}
	code := codes.Code(resp.GetStatus().GetCode())
	if ok := resp.GetOkResponse(); ok != nil {
		a := answer{outcome: "OK", allowed: true, reason: "allowed"}
		for _, h := range ok.GetHeaders() {
			if h.GetHeader().GetKey() == "x-user-id" {
				a.subject = h.GetHeader().GetValue()
			}
		}
		if code != codes.OK {
			a.problem = fmt.Sprintf("an OkResponse with gRPC code %s", code)
		}
		return a
	}
	denied := resp.GetDeniedResponse()
	if denied == nil {
		return answer{outcome: "no http_response", problem: "a CheckResponse with neither ok_response nor denied_response"}
	}
	httpStatus := int(denied.GetStatus().GetCode())
	reason, _, _ := strings.Cut(resp.GetStatus().GetMessage(), ": ")
	a := answer{outcome: fmt.Sprintf("%d %s", httpStatus, reason), reason: reason}
	want, known := reasonAnswers[reason]
	switch {
	case !known:
		a.problem = fmt.Sprintf("unknown reason in status message %q", resp.GetStatus().GetMessage())
	case want.code != code || want.http != httpStatus:
		a.problem = fmt.Sprintf("reason %s answered with gRPC %s and HTTP %d, want %s and %d", reason, code, httpStatus, want.code, want.http)
	}
	return a
}

// conditions are the circumstances of one check.
type conditions struct {
	// quiet: no fault during the check, and none in the settle time before it.
	quiet bool
	// episode holds the fault modes of the run of faults the check fell in (when not quiet).
	episode modeSet
	// established: an earlier check of a token with this kid was allowed, after the last Empty
	// window — betterauthz has shown it holds the key, and it keeps it through failed fetches.
	established bool
	// duplicated: the check met a DuplicateKid window (or its settle time) that listed this
	// token's kid twice, so betterauthz may have dropped the kid (401 unknown_key).
	duplicated bool
}

// verdict is how an answer is judged.
type verdict int

const (
	right verdict = iota
	// relaxed: right only because a fault is active or just ended (a 503 while the JWKS is
	// down, a 401 unknown_key after an empty set).
	relaxed
	wrong
)

// judge says whether a is a right answer for a token of kind k (with subject sub) under c.
func judge(k kind, sub string, a answer, c conditions) (verdict, string) {
	if a.problem != "" {
		return wrong, a.problem
	}
	// While a fault is active or has just ended, a token whose kid betterauthz does not hold
	// may find the JWKS unreachable (503 keys_unavailable), the wait for it cut short (503
	// timeout, or the check's own deadline), or a set without its key (Empty, or DuplicateKid
	// for the kid it lists twice: 401 unknown_key).
	unreachable := !c.quiet && (a.reason == "keys_unavailable" || a.reason == "timeout" || a.deadline)
	emptied := !c.quiet && c.episode.has(faultjwks.Empty) && a.reason == "unknown_key"
	dropped := c.duplicated && a.reason == "unknown_key"
	keyMissing := (!c.established && unreachable) || emptied || dropped

	switch k {
	case kindValid, kindRotated:
		if a.allowed {
			if a.subject != sub {
				return wrong, fmt.Sprintf("allowed with x-user-id %q, want %q", a.subject, sub)
			}
			return right, ""
		}
		if keyMissing {
			return relaxed, ""
		}
	case kindExpired:
		if a.reason == "expired" {
			return right, ""
		}
		if keyMissing {
			return relaxed, ""
		}
	case kindTampered, kindCollision:
		if a.reason == "invalid_token" {
			return right, ""
		}
		if keyMissing {
			return relaxed, ""
		}
	case kindBogus, kindAttacker, kindWeakRSA:
		if a.reason == "unknown_key" {
			return right, ""
		}
		if unreachable {
			return relaxed, ""
		}
	}
	return wrong, ""
}

// modeSet is a set of fault modes.
type modeSet uint32

func (s modeSet) has(m faultjwks.Mode) bool { return s&(1<<uint(m)) != 0 }

func (s modeSet) with(m faultjwks.Mode) modeSet { return s | 1<<uint(m) }

func (s modeSet) String() string {
	var names []string
	for _, m := range faultjwks.Faults() {
		if s.has(m) {
			names = append(names, m.String())
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}
