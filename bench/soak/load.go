package main

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/betterauthz/betterauthz/internal/testenv/faultjwks"
)

// checkDeadline is each check's deadline, as Envoy's ext_authz timeout would be: generous, so
// that only a wrong decision fails the run, never a slow machine.
const checkDeadline = 2 * time.Second

// A mix is the share of each kind of token a worker sends, in percent.
type mix [numKinds]int

// The tokens of keys betterauthz holds are answered at once; those of kids it does not know
// wait for a JWKS fetch (up to a second, or the check deadline while the JWKS is down) until
// the kid is in its negative cache, for 5 s. They have workers of their own, so that their
// waits never hold back the rest of the load.
var (
	knownMix = mix{kindValid: 50, kindRotated: 20, kindExpired: 10, kindTampered: 10, kindCollision: 10}
	// The bogus kids here are a few reused ones; the bogus workers add never-seen ones.
	unknownMix = mix{kindBogus: 60, kindAttacker: 20, kindWeakRSA: 20}
)

// load sends checks over a few gRPC connections, as a few Envoys would, and judges each
// answer.
type load struct {
	stubs []authv3.AuthorizationClient
	next  atomic.Uint64
	pool  *pool
	tl    *timeline
	// gate lets the leak sampler pause the load: workers hold it shared for each check.
	gate sync.RWMutex
	t    *tally
}

func dial(addr string, n int) ([]*grpc.ClientConn, error) {
	var conns []*grpc.ClientConn
	for range n {
		c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
	}
	return conns, nil
}

func (l *load) stub() authv3.AuthorizationClient {
	return l.stubs[l.next.Add(1)%uint64(len(l.stubs))]
}

// paced sends tokens in the proportions of m at rate checks per second until ctx ends.
func (l *load) paced(ctx context.Context, seed uint64, rate float64, m *mix) {
	rng := mrand.New(mrand.NewPCG(seed, 1))
	interval := time.Duration(float64(time.Second) / rate)
	due := time.Now()
	for ctx.Err() == nil {
		k := m.pick(rng)
		if t, ok := l.pool.pick(rng, k); ok {
			l.check(k, t)
		}
		due = due.Add(interval)
		if wait := time.Until(due); wait > 0 {
			sleep(ctx, wait)
		} else if wait < -time.Second {
			due = time.Now() // fell behind (a fault held checks): do not burst to catch up
		}
	}
}

// bogus sends tokens with never-seen kids, one after another: each waits for a JWKS fetch,
// so betterauthz fetches about once a second whatever the fault.
func (l *load) bogus(ctx context.Context, seed uint64) {
	rng := mrand.New(mrand.NewPCG(seed, 2))
	for ctx.Err() == nil {
		if t, ok := l.pool.freshBogus(rng); ok {
			l.check(kindBogus, t)
		}
	}
}

func (m *mix) pick(rng *mrand.Rand) kind {
	n := rng.IntN(100)
	for k, w := range m {
		if n < w {
			return kind(k)
		}
		n -= w
	}
	return kindValid
}

// check sends one token and judges the answer.
func (l *load) check(k kind, t token) {
	l.gate.RLock()
	atStart, start, fetches := l.tl.now(), time.Now(), l.tl.fj.Requests()
	ctx, cancel := context.WithTimeout(context.Background(), checkDeadline)
	resp, err := l.stub().Check(ctx, checkRequest(t.raw))
	cancel()
	end, atEnd := time.Now(), l.tl.now()
	fetches = l.tl.fj.Requests() - fetches
	l.gate.RUnlock()

	a := readAnswer(resp, err)
	kid := t.kid
	if k == kindBogus || k == kindAttacker || k == kindWeakRSA {
		kid = "" // not a real key: nothing to establish
	}
	c := l.tl.conditions(kid, start, atStart, end, atEnd)
	v, note := judge(k, t.sub, a, c)
	if v == right && a.allowed && kid != "" {
		l.tl.allowed(kid, start)
	}
	// How long after the last fault ended this check was sent, if it was sent after one and
	// met no other during its course.
	var after time.Duration
	if atStart == atEnd && atStart.active == faultjwks.Normal && !atStart.lastEnd.IsZero() {
		after = start.Sub(atStart.lastEnd)
	}
	if v == wrong {
		note = strings.TrimPrefix(note+fmt.Sprintf("; took %s, %d JWKS requests reached the fault server meanwhile, ended %s UTC",
			end.Sub(start).Round(time.Millisecond), fetches, end.UTC().Format("15:04:05.000")), "; ")
	}
	l.t.add(k, a, c, v, note, start, t.kid, after, end.Sub(start))
}

func checkRequest(tok string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "soak", Method: "GET", Host: "api.example.com", Path: "/api/orders?page=2",
			Scheme: "https", Protocol: "HTTP/2",
			Headers: map[string]string{
				"authorization": "Bearer " + tok, "user-agent": "soak", "accept": "application/json",
				"x-user-id": "client-supplied", "x-forwarded-for": "203.0.113.9",
			},
		}},
	}}
}

// tally counts answers and keeps the first wrong ones.
type tally struct {
	start time.Time
	log   func(format string, args ...any)

	mu      sync.Mutex
	total   int
	byKind  [numKinds]map[string]int // outcome -> count
	wrong   map[string]int           // category -> count
	relaxed [numKinds]int
	// outlast is, per kind, the longest a fault's effect was seen after the fault ended: how
	// long after its end the latest relaxed answer's check was sent.
	outlast [numKinds]time.Duration
	// slowest is, per kind, the longest a check judged in quiet took: a stall shows here
	// before it turns into a deadline.
	slowest  [numKinds]time.Duration
	examples []string
	failures map[string]int // not decisions: reloads, rotations, the process
}

const maxExamples = 10

func newTally(start time.Time, log func(string, ...any)) *tally {
	t := &tally{start: start, log: log, wrong: map[string]int{}, failures: map[string]int{}}
	for k := range t.byKind {
		t.byKind[k] = map[string]int{}
	}
	return t
}

func (t *tally) add(k kind, a answer, c conditions, v verdict, note string, start time.Time, kid string, afterFault, took time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total++
	t.byKind[k][a.outcome]++
	if c.quiet {
		t.slowest[k] = max(t.slowest[k], took)
	}
	switch v {
	case relaxed:
		t.relaxed[k]++
		t.outlast[k] = max(t.outlast[k], afterFault)
	case wrong:
		when := "quiet"
		if !c.quiet {
			when = "after " + c.episode.String()
		}
		category := fmt.Sprintf("%s got %s (%s)", k, a.outcome, when)
		t.wrong[category]++
		if len(t.examples) < maxExamples {
			ex := fmt.Sprintf("at +%s: %s token (kid %q, established %v) got %s; JWKS: %s", start.Sub(t.start).Round(time.Millisecond), k, kid, c.established, a.outcome, when)
			if note != "" {
				ex += ": " + note
			}
			t.examples = append(t.examples, ex)
			t.log("WRONG %s", ex)
		}
	}
}

// fail records something other than a check that went wrong.
func (t *tally) fail(category, detail string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failures[category]++
	if len(t.examples) < maxExamples {
		ex := fmt.Sprintf("at +%s: %s: %s", time.Since(t.start).Round(time.Millisecond), category, detail)
		t.examples = append(t.examples, ex)
		t.log("FAIL %s", ex)
	}
}
