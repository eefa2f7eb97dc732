package main

import (
	"fmt"
	"slices"
	"time"
)

// pairRounds is how many interleaved A/B runs a headline ratio takes.
const pairRounds = 3

// paired is a ratio measured in interleaved runs — a, b, a, b, … — so that a machine whose
// speed drifts (other tenants, thermal limits) slows both sides alike: one run of each, half a
// minute apart, can be off by a fifth on a shared 2-CPU machine.
type paired struct {
	ratios []float64 // a's rate / b's rate, per round
}

func (p paired) median() float64 {
	s := slices.Sorted(slices.Values(p.ratios))
	return s[len(s)/2]
}

func (p paired) String() string {
	s := slices.Sorted(slices.Values(p.ratios))
	return fmt.Sprintf("%.2f × (median of %d interleaved pairs; %.2f–%.2f)", p.median(), len(s), s[0], s[len(s)-1])
}

// pair measures a and b, each with its own tokens, closed loop, alternately.
func (b *bench) pair(a, c *process, tokA, tokB []string) (paired, error) {
	var p paired
	for range pairRounds {
		ra, err := b.rate(a, tokA)
		if err != nil {
			return p, err
		}
		rb, err := b.rate(c, tokB)
		if err != nil {
			return p, err
		}
		p.ratios = append(p.ratios, ra/rb)
	}
	return p, nil
}

// rate is the closed-loop rate of one run against p.
func (b *bench) rate(p *process, tokens []string) (float64, error) {
	c, err := dial(p.addr, b.o.conns)
	if err != nil {
		return 0, err
	}
	defer c.close()
	closedLoop(c, requests(tokens), 4, 300*time.Millisecond)
	return closedLoop(c, requests(tokens), b.o.concurrency, b.o.duration).rate(), nil
}
