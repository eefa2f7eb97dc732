// Package switchover decides which config is in force while a new config's signing keys load:
// the subtlest rule of a reload. A config that names a JWKS address it has not fetched yet —
// a new issuer, an issuer moved to another address, a renamed one — is a candidate: the config
// in force keeps answering until the candidate's keys are far enough along that switching
// cannot take an issuer down or drop readiness on every replica at once.
//
// Step is that rule as a pure function of the key sets' states, so that it can be read and
// tested as a table; internal/server's reloader asks it on each event of a candidate's key
// sets. Nothing here refuses a config: a config is refused before it becomes a candidate (it
// does not parse or validate, or its key sets cannot be started), and a candidate whose keys
// never load waits — the config in force stays — until a newer config replaces it.
package switchover

import "slices"

// Set is one issuer's key set, as a switch-over sees it.
type Set struct {
	// Issuer names the issuer (the config's issuers[].name).
	Issuer string
	// URL is the JWKS address the set fetches.
	URL string
	// Kept, of a candidate's set: the candidate keeps the running set of the config in force (the
	// same issuer name and key source), so the set serves the config in force already.
	Kept bool
	// Attempted: the set's first fetch has ended, well or not.
	Attempted bool
	// Loaded: a fetch has succeeded, and the set holds keys.
	Loaded bool
}

// Verdict is what becomes of a candidate.
type Verdict int

const (
	// Publish: the candidate takes over now.
	Publish Verdict = iota
	// Wait: the config in force stays; ask again when one of the candidate's sets has fetched.
	Wait
)

func (v Verdict) String() string {
	if v == Publish {
		return "publish"
	}
	return "wait"
}

// Outcome is Step's answer.
type Outcome struct {
	Verdict Verdict
	// Waiting are the JWKS addresses of the candidate's new sets that have not loaded or not
	// ended their first fetch (Wait only), in its order: what a log line says it waits for.
	Waiting []string
}

// Step decides whether a candidate config takes over from the one in force.
//
// inForce are the key sets of the config in force as they were when the candidate arrived (nil:
// no config is in force); candidate are the candidate's sets as they are now.
//
//   - The first config takes over at once (not ready until its keys load).
//   - A set of the candidate that replaces one that serves — the same issuer name, or the same
//     JWKS address under a new name, whose keys had loaded — must load first, so that a reload
//     to a wrong or unreachable jwksURL cannot take an issuer down. A set that replaces one that
//     never loaded (its issuer is down) is not waited for beyond its first fetch.
//   - Any other new set must have ended its first fetch, so that readiness does not drop on
//     every replica at once while it tries.
//   - When the config in force serves (one of its sets had loaded), one of the candidate's sets
//     must have loaded too.
func Step(inForce, candidate []Set) Outcome {
	if inForce == nil {
		return Outcome{Verdict: Publish}
	}
	mustLoad := slices.ContainsFunc(inForce, loaded)
	ready := !mustLoad || slices.ContainsFunc(candidate, loaded)
	var waiting []string
	for _, s := range candidate {
		if s.Kept {
			continue
		}
		done := s.done(inForce)
		ready = ready && done
		if !done || mustLoad && !s.Loaded {
			waiting = append(waiting, s.URL)
		}
	}
	if ready {
		return Outcome{Verdict: Publish}
	}
	return Outcome{Verdict: Wait, Waiting: waiting}
}

// done reports whether a new set of the candidate is far enough along: loaded when it replaces
// a set of inForce that serves, its first fetch ended otherwise.
func (s Set) done(inForce []Set) bool {
	replaces := slices.ContainsFunc(inForce, func(old Set) bool {
		return (old.Issuer == s.Issuer || old.URL == s.URL) && old.Loaded
	})
	if replaces {
		return s.Loaded
	}
	return s.Attempted
}

func loaded(s Set) bool { return s.Loaded }
