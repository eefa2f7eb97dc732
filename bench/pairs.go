package main

import (
	"fmt"
	"slices"
	"time"
)

// pairRounds is how many interleaved A/B runs a headline ratio takes.
const pairRounds = 3

// paired compares a with b in interleaved runs — a, b, a, b, … — so that a machine whose
// speed drifts (other tenants, thermal limits) slows both sides alike: one run of each, half a
// minute apart, can be off by a fifth on a shared 2-CPU machine.
//
// The ratio is efficiency: b's server CPU per check over a's. Above 1, a spends less CPU on a
// check than b does. CPU per check, not throughput, because the load generator shares the
// machine: a closed loop's rate also measures the generator.
type paired struct {
	ratios []float64 // b's CPU per check / a's, per round
	rates  []float64 // a's rate / b's rate, per round (for the log)
}

func (p paired) median() float64 {
	s := slices.Sorted(slices.Values(p.ratios))
	return s[len(s)/2]
}

func (p paired) String() string {
	s := slices.Sorted(slices.Values(p.ratios))
	return fmt.Sprintf("%.2f × (median of %d interleaved pairs; %.2f–%.2f)", p.median(), len(s), s[0], s[len(s)-1])
}

// measured is one run of a pair: the server's rate, and its CPU per check.
type measured struct {
	rate, cpuPerCheck float64
}

func (p *paired) add(a, b measured) {
	p.ratios = append(p.ratios, b.cpuPerCheck/a.cpuPerCheck)
	p.rates = append(p.rates, a.rate/b.rate)
}

// pair measures a and b, each with its own tokens, closed loop, alternately.
func (b *bench) pair(a, c *process, tokA, tokB []string) (paired, error) {
	var p paired
	for range pairRounds {
		ma, err := b.run(a, tokA)
		if err != nil {
			return p, err
		}
		mb, err := b.run(c, tokB)
		if err != nil {
			return p, err
		}
		p.add(ma, mb)
	}
	log("pair %s / %s: CPU per check %.2f ×, throughput %.2f ×", a.name, c.name, p.median(), slices.Sorted(slices.Values(p.rates))[len(p.rates)/2])
	return p, nil
}

// run is one closed-loop run against p.
func (b *bench) run(p *process, tokens []string) (measured, error) {
	c, err := dial(p.addr, b.o.conns)
	if err != nil {
		return measured{}, err
	}
	defer c.close()
	closedLoop(c, requests(tokens), 4, 300*time.Millisecond)
	cpu0 := p.cpuSeconds()
	res := closedLoop(c, requests(tokens), b.o.concurrency, b.o.duration)
	return measured{rate: res.rate(), cpuPerCheck: (p.cpuSeconds() - cpu0) / float64(max(res.requests, 1))}, nil
}
