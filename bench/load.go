package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// loadResult is what one load run measured from the client's side.
type loadResult struct {
	requests  int
	errors    int
	denied    int
	elapsed   time.Duration
	latencies []time.Duration
	// late: open loop only, how long after it was due each request was sent — the load
	// generator's own lateness, which the latencies include.
	late []time.Duration
}

// lateP99 is the generator's 99th-percentile lateness (0 for a closed loop).
func (r loadResult) lateP99() time.Duration {
	if len(r.late) == 0 {
		return 0
	}
	return r.late[int(0.99*float64(len(r.late)-1))]
}

func (r loadResult) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r loadResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(r.latencies)-1))
	return r.latencies[i]
}

// client holds a few connections to one server, as a few Envoys would.
type client struct {
	conns []*grpc.ClientConn
	stubs []authv3.AuthorizationClient
	next  atomic.Uint64
}

func dial(addr string, n int) (*client, error) {
	c := &client{}
	for range n {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, err
		}
		c.conns = append(c.conns, conn)
		c.stubs = append(c.stubs, authv3.NewAuthorizationClient(conn))
	}
	return c, nil
}

func (c *client) close() {
	for _, conn := range c.conns {
		conn.Close()
	}
}

func (c *client) stub() authv3.AuthorizationClient {
	return c.stubs[c.next.Add(1)%uint64(len(c.stubs))]
}

// requests builds CheckRequests as Envoy sends them, one per token (a Bearer header, or the
// Cookie header of a credential made by cookie).
func requests(tokens []string) []*authv3.CheckRequest {
	out := make([]*authv3.CheckRequest, len(tokens))
	for i, tok := range tokens {
		headers := map[string]string{
			"user-agent": "bench", "accept": "application/json",
			"x-request-id": fmt.Sprintf("bench-%d", i), "x-forwarded-for": "203.0.113.9",
		}
		if c, ok := strings.CutPrefix(tok, cookiePrefix); ok {
			headers["cookie"] = c
		} else {
			headers["authorization"] = "Bearer " + tok
		}
		out[i] = &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Id: fmt.Sprintf("bench-%d", i), Method: "GET", Host: "api.example.com", Path: "/api/orders?page=2",
				Scheme: "https", Protocol: "HTTP/2",
				Headers: headers,
			}},
		}}
	}
	return out
}

// closedLoop keeps `concurrency` checks in flight for d and measures throughput: the
// saturating rate.
func closedLoop(c *client, reqs []*authv3.CheckRequest, concurrency int, d time.Duration) loadResult {
	return closedLoopOf(concurrency, d, 7, func(rng *rand.Rand) (bool, error) {
		resp, err := c.stub().Check(context.Background(), reqs[rng.IntN(len(reqs))])
		return err == nil && resp.GetOkResponse() == nil, err
	})
}

// closedLoopOf keeps `concurrency` workers calling call back to back for d. call makes one
// request (its pick seeded per worker from seed) and says whether it was denied, or failed.
func closedLoopOf(concurrency int, d time.Duration, seed uint64, call func(*rand.Rand) (denied bool, err error)) loadResult {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	res := loadResult{}
	var wg sync.WaitGroup
	start := time.Now()
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), seed))
			var lat []time.Duration
			var n, errs, denied int
			for ctx.Err() == nil {
				t0 := time.Now()
				refused, err := call(rng)
				lat = append(lat, time.Since(t0))
				n++
				switch {
				case err != nil:
					errs++
				case refused:
					denied++
				}
			}
			mu.Lock()
			res.requests += n
			res.errors += errs
			res.denied += denied
			res.latencies = append(res.latencies, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.latencies)
	return res
}

// openLoop sends checks at a fixed rate for d, whatever the answers' pace, and measures each
// latency from when it was due (so a stall is not hidden by the requests it delays).
func openLoop(c *client, reqs []*authv3.CheckRequest, rate float64, d time.Duration) loadResult {
	interval := time.Duration(float64(time.Second) / rate)
	total := int(d / interval)
	res := loadResult{latencies: make([]time.Duration, 0, total), late: make([]time.Duration, 0, total)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 200*time.Microsecond {
			// Timers are coarse: sleep only when well ahead, else send what is due now (up to
			// 200 µs early: spinning until due would starve the client's own goroutines).
			time.Sleep(wait - 100*time.Microsecond)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			late := max(time.Since(due), 0)
			resp, err := c.stub().Check(context.Background(), reqs[i%len(reqs)])
			lat := time.Since(due)
			mu.Lock()
			res.requests++
			res.latencies = append(res.latencies, lat)
			res.late = append(res.late, late)
			if err != nil {
				res.errors++
			} else if resp.GetOkResponse() == nil {
				res.denied++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.latencies)
	slices.Sort(res.late)
	return res
}
