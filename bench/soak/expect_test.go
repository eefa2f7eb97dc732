package main

import (
	"context"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/betterauthz/betterauthz/internal/testenv/faultjwks"
)

func denied(code codes.Code, http int, message string) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code), Message: message},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode(http)},
		}},
	}
}

func allowedAs(sub string) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "x-user-id", Value: sub}}},
		}},
	}
}

func TestReadAnswer(t *testing.T) {
	tests := map[string]struct {
		resp    *authv3.CheckResponse
		err     error
		outcome string
		problem bool
	}{
		"allowed":            {resp: allowedAs("u1"), outcome: "OK"},
		"expired":            {resp: denied(codes.Unauthenticated, 401, "expired: token expired"), outcome: "401 expired"},
		"keys unavailable":   {resp: denied(codes.Unavailable, 503, "keys_unavailable: signing keys unavailable"), outcome: "503 keys_unavailable"},
		"deadline":           {err: status.Error(codes.DeadlineExceeded, "context deadline exceeded"), outcome: "deadline exceeded"},
		"gRPC error":         {err: status.Error(codes.Unavailable, "connection refused"), outcome: "gRPC error Unavailable", problem: true},
		"wrong HTTP status":  {resp: denied(codes.Unauthenticated, 403, "expired: token expired"), outcome: "403 expired", problem: true},
		"wrong gRPC code":    {resp: denied(codes.PermissionDenied, 401, "unknown_key: unknown signing key"), outcome: "401 unknown_key", problem: true},
		"unknown reason":     {resp: denied(codes.Unauthenticated, 401, "nope: what"), outcome: "401 nope", problem: true},
		"ok with a bad code": {resp: &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.Unauthenticated)}, HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}}, outcome: "OK", problem: true},
		"neither":            {resp: &authv3.CheckResponse{Status: &rpcstatus.Status{}}, outcome: "no http_response", problem: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			a := readAnswer(tt.resp, tt.err)
			if a.outcome != tt.outcome || (a.problem != "") != tt.problem {
				t.Errorf("outcome %q problem %q, want %q (problem: %v)", a.outcome, a.problem, tt.outcome, tt.problem)
			}
		})
	}
	if a := readAnswer(allowedAs("u1"), nil); !a.allowed || a.subject != "u1" {
		t.Errorf("allowed answer read as %+v", a)
	}
}

func TestJudge(t *testing.T) {
	var (
		ok          = readAnswer(allowedAs("u1"), nil)
		okOther     = readAnswer(allowedAs("someone"), nil)
		expired     = readAnswer(denied(codes.Unauthenticated, 401, "expired: token expired"), nil)
		invalid     = readAnswer(denied(codes.Unauthenticated, 401, "invalid_token: signature invalid"), nil)
		unknown     = readAnswer(denied(codes.Unauthenticated, 401, "unknown_key: unknown signing key"), nil)
		unavailable = readAnswer(denied(codes.Unavailable, 503, "keys_unavailable: signing keys unavailable"), nil)
		timeout     = readAnswer(denied(codes.Unavailable, 503, "timeout: timed out waiting for signing keys"), nil)
		deadline    = readAnswer(nil, status.Error(codes.DeadlineExceeded, context.DeadlineExceeded.Error()))
	)
	quiet := conditions{quiet: true, established: true}
	quietNew := conditions{quiet: true}
	hang := conditions{episode: modeSet(0).with(faultjwks.Hang)}
	hangKnown := conditions{episode: modeSet(0).with(faultjwks.Hang), established: true}
	emptied := conditions{episode: modeSet(0).with(faultjwks.Empty), established: false}
	redirect := conditions{episode: modeSet(0).with(faultjwks.Redirect).with(faultjwks.Status500)}
	unsupported := conditions{episode: modeSet(0).with(faultjwks.UnsupportedBeside)}
	dupOf := conditions{episode: modeSet(0).with(faultjwks.DuplicateKid), duplicated: true}
	dupOther := conditions{episode: modeSet(0).with(faultjwks.DuplicateKid), established: true}

	tests := map[string]struct {
		k    kind
		a    answer
		c    conditions
		want verdict
	}{
		"valid allowed":                          {kindValid, ok, quiet, right},
		"valid allowed as someone else":          {kindValid, okOther, quiet, wrong},
		"valid refused when quiet":               {kindValid, unknown, quiet, wrong},
		"valid 503 when quiet":                   {kindValid, unavailable, quietNew, wrong},
		"new key 503 during a fault":             {kindRotated, unavailable, hang, relaxed},
		"new key timeout during a fault":         {kindRotated, timeout, hang, relaxed},
		"new key past the deadline in a fault":   {kindRotated, deadline, hang, relaxed},
		"known key 503 during a fault":           {kindValid, unavailable, hangKnown, wrong},
		"new key 401 unknown_key during a fault": {kindRotated, unknown, hang, wrong},
		"valid unknown_key after an empty set":   {kindValid, unknown, emptied, relaxed},
		"valid 503 after an empty set":           {kindValid, unavailable, emptied, relaxed},
		"expired":                                {kindExpired, expired, quiet, right},
		"expired allowed":                        {kindExpired, ok, hang, wrong},
		"expired as invalid":                     {kindExpired, invalid, quiet, wrong},
		"tampered":                               {kindTampered, invalid, quiet, right},
		"tampered allowed":                       {kindTampered, ok, quiet, wrong},
		"tampered 503, its key unknown, fault":   {kindTampered, unavailable, hang, relaxed},
		"bogus":                                  {kindBogus, unknown, quietNew, right},
		"bogus 503 when quiet":                   {kindBogus, unavailable, quietNew, wrong},
		"bogus 503 during a fault":               {kindBogus, unavailable, hang, relaxed},
		"bogus timeout during a fault":           {kindBogus, timeout, hangKnown, relaxed},
		"bogus past the deadline when quiet":     {kindBogus, deadline, quiet, wrong},
		"bogus allowed":                          {kindBogus, ok, hang, wrong},
		"attacker refused":                       {kindAttacker, unknown, quietNew, right},
		"attacker allowed when quiet":            {kindAttacker, ok, quietNew, wrong},
		// betterauthz follows no JWKS redirect and takes no RSA key under 2048 bits.
		"attacker allowed after a redirect":    {kindAttacker, ok, redirect, wrong},
		"attacker allowed after another fault": {kindAttacker, ok, hang, wrong},
		"weak RSA allowed after unsupported":   {kindWeakRSA, ok, unsupported, wrong},
		"weak RSA allowed after a redirect":    {kindWeakRSA, ok, redirect, wrong},
		"collision refused":                    {kindCollision, invalid, quiet, right},
		"collision allowed":                    {kindCollision, ok, redirect, wrong},
		"collision unknown_key after empty":    {kindCollision, unknown, emptied, relaxed},
		// Neither key of a kid listed twice is trusted; every other kid stays.
		"collision unknown_key, its kid listed twice": {kindCollision, unknown, dupOf, relaxed},
		"collision allowed, its kid listed twice":     {kindCollision, ok, dupOf, wrong},
		"valid unknown_key, its kid listed twice":     {kindValid, unknown, dupOf, relaxed},
		"valid unknown_key, another kid listed twice": {kindValid, unknown, dupOther, wrong},
		"rotated allowed, another kid listed twice":   {kindRotated, ok, dupOther, right},
		"rotated 503, another kid listed twice":       {kindRotated, unavailable, dupOther, wrong},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got, note := judge(tt.k, "u1", tt.a, tt.c); got != tt.want {
				t.Errorf("judge = %d (%s), want %d", got, note, tt.want)
			}
		})
	}
}

func TestTimeline(t *testing.T) {
	fj, err := faultjwks.Start("http://127.0.0.1:1/unused")
	if err != nil {
		t.Fatal(err)
	}
	defer fj.Close()
	tl := newTimeline(fj)
	t0 := time.Now()
	s0 := tl.now()
	if c := tl.conditions("k", t0, s0, t0, s0); !c.quiet || c.established {
		t.Errorf("before any fault: %+v", c)
	}
	tl.allowed("k", t0)
	tl.begin(faultjwks.Hang, "")
	s1 := tl.now()
	if c := tl.conditions("k", t0, s0, time.Now(), s1); c.quiet || !c.episode.has(faultjwks.Hang) || !c.established {
		t.Errorf("a check that saw a hang begin: %+v", c)
	}
	tl.end()
	tl.begin(faultjwks.Empty, "")
	tl.end()
	s2 := tl.now()
	now := time.Now()
	c := tl.conditions("k", now, s2, now, s2)
	if c.quiet || !c.episode.has(faultjwks.Hang) || !c.episode.has(faultjwks.Empty) || c.established {
		t.Errorf("right after an empty set: %+v (the key was last seen before it)", c)
	}
	if !s2.quietAt(now.Add(settle)) || s2.quietAt(now.Add(settle/2)) {
		t.Error("quiet must start settle after the last fault")
	}
	// A fault after a quiet stretch starts a new episode.
	later := *s2
	later.lastEnd = now.Add(-2 * settle)
	tl.state.Store(&later)
	tl.begin(faultjwks.Garbage, "")
	if ep := tl.now().episode; ep.has(faultjwks.Hang) || !ep.has(faultjwks.Garbage) {
		t.Errorf("episode after a quiet stretch: %s", ep)
	}
	tl.end()

	// A kid listed twice may be dropped; the others stay established.
	t3 := time.Now()
	tl.allowed("k", t3)
	tl.allowed("other", t3)
	tl.begin(faultjwks.DuplicateKid, "k")
	tl.end()
	s3, now := tl.now(), time.Now()
	if c := tl.conditions("k", now, s3, now, s3); !c.duplicated || c.established {
		t.Errorf("the kid listed twice, after the window: %+v", c)
	}
	if c := tl.conditions("other", now, s3, now, s3); c.duplicated || !c.established {
		t.Errorf("another kid, after the window: %+v", c)
	}
	tl.allowed("k", time.Now())
	if c := tl.conditions("k", now, s3, now, s3); !c.established {
		t.Errorf("the kid allowed again after the window: %+v", c)
	}
}
