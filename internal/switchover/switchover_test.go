package switchover

import (
	"slices"
	"testing"
)

// Key sets by state: a (issuer a at a.example/jwks) in each state, and the sets a candidate may
// bring.
var (
	loadedA    = Set{Issuer: "a", URL: "https://a.example/jwks", Attempted: true, Loaded: true}
	downA      = Set{Issuer: "a", URL: "https://a.example/jwks", Attempted: true}
	keptA      = Set{Issuer: "a", URL: "https://a.example/jwks", Kept: true, Attempted: true, Loaded: true}
	keptDownA  = Set{Issuer: "a", URL: "https://a.example/jwks", Kept: true, Attempted: true}
	movedA     = Set{Issuer: "a", URL: "https://a2.example/jwks"} // a, at another address: not fetched yet
	renamedA   = Set{Issuer: "z", URL: "https://a.example/jwks"}  // a's address under another name
	newB       = Set{Issuer: "b", URL: "https://b.example/jwks"}  // a new issuer: not fetched yet
	loadedB    = Set{Issuer: "b", URL: "https://b.example/jwks", Attempted: true, Loaded: true}
	failedB    = Set{Issuer: "b", URL: "https://b.example/jwks", Attempted: true}
	fetchedA2  = Set{Issuer: "a", URL: "https://a2.example/jwks", Attempted: true, Loaded: true}
	failedA2   = Set{Issuer: "a", URL: "https://a2.example/jwks", Attempted: true}
	fetchedRen = Set{Issuer: "z", URL: "https://a.example/jwks", Attempted: true}
)

func TestStep(t *testing.T) {
	cases := map[string]struct {
		inForce, candidate []Set
		want               Verdict
		waiting            []string
	}{
		"the first config takes over at once, keys or not": {
			inForce: nil, candidate: []Set{newB}, want: Publish,
		},
		"same key sets (a policy change): at once": {
			inForce: []Set{loadedA}, candidate: []Set{keptA}, want: Publish,
		},
		"a new issuer waits for its first fetch": {
			inForce: []Set{loadedA}, candidate: []Set{keptA, newB}, want: Wait, waiting: []string{newB.URL},
		},
		"a new issuer whose first fetch failed: the kept issuer serves": {
			inForce: []Set{loadedA}, candidate: []Set{keptA, failedB}, want: Publish,
		},
		"a serving issuer moved to another address waits until it loads": {
			inForce: []Set{loadedA}, candidate: []Set{movedA}, want: Wait, waiting: []string{movedA.URL},
		},
		"a serving issuer moved, its first fetch failed: still waiting": {
			inForce: []Set{loadedA}, candidate: []Set{failedA2}, want: Wait, waiting: []string{failedA2.URL},
		},
		"a serving issuer moved, loaded: takes over": {
			inForce: []Set{loadedA}, candidate: []Set{fetchedA2}, want: Publish,
		},
		"a serving address under a new name must load too": {
			inForce: []Set{loadedA}, candidate: []Set{fetchedRen}, want: Wait, waiting: []string{fetchedRen.URL},
		},
		"an issuer that never loaded is replaced after one fetch": {
			inForce: []Set{downA}, candidate: []Set{failedA2}, want: Publish,
		},
		"an issuer that never loaded: its replacement still gets its first fetch": {
			inForce: []Set{downA}, candidate: []Set{movedA}, want: Wait, waiting: []string{movedA.URL},
		},
		"the config in force serves: one of the candidate's sets must have loaded": {
			inForce: []Set{loadedA}, candidate: []Set{failedB}, want: Wait, waiting: []string{failedB.URL},
		},
		"the config in force serves: a new issuer's keys do": {
			inForce: []Set{loadedA}, candidate: []Set{loadedB}, want: Publish,
		},
		"nothing in force serves: no set needs to load": {
			inForce: []Set{downA}, candidate: []Set{keptDownA, failedB}, want: Publish,
		},
		"waiting lists every new set that has not loaded while one must": {
			inForce: []Set{loadedA}, candidate: []Set{movedA, failedB}, want: Wait, waiting: []string{movedA.URL, failedB.URL},
		},
		"renamed and new together: both awaited": {
			inForce: []Set{loadedA}, candidate: []Set{renamedA, newB}, want: Wait, waiting: []string{renamedA.URL, newB.URL},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Step(tc.inForce, tc.candidate)
			if got.Verdict != tc.want || !slices.Equal(got.Waiting, tc.waiting) {
				t.Fatalf("Step = %s waiting %v, want %s waiting %v", got.Verdict, got.Waiting, tc.want, tc.waiting)
			}
		})
	}
}
