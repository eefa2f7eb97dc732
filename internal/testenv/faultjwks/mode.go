package faultjwks

import "fmt"

// Mode is how the server answers requests for its JWKS path. Set switches it; a request is
// answered by the mode in force when it arrived.
type Mode int

const (
	// Normal proxies each request to the upstream JWKS, fresh (nothing cached), and answers
	// with the upstream's status, content type and body.
	Normal Mode = iota
	// Status500 answers 500 Internal Server Error.
	Status500
	// Hang reads the request and never answers, until the client goes away or Close: a fetch
	// without a timeout would wait forever.
	Hang
	// SlowDrip sends 200 OK headers at once, then the real body one byte every 200 ms: the
	// headers arrive, so only a timeout on the whole fetch (body included) ends it.
	SlowDrip
	// Garbage answers 200 with `<html>not a key set`.
	Garbage
	// Truncated answers 200 with the first half of the real body: not valid JSON.
	Truncated
	// Huge answers 200 with a syntactically valid JSON document of about 10 MiB — the real
	// keys followed by a huge "padding" member — which a parser without a size cap accepts.
	Huge
	// Redirect answers 302 to another path on this server, which serves a valid-looking JWKS:
	// the real keys plus the attacker's key (AttackerKey, its own kid). A client that follows
	// redirects installs a key nobody published at the configured address.
	Redirect
	// UnsupportedBeside serves the real keys plus unusable ones: a symmetric "oct" key, a key
	// with "use":"enc", a key of an unknown kty, a 1024-bit RSA key (WeakRSAKey) and an EC key
	// whose point is not on its curve. A client should skip those and keep the real keys.
	UnsupportedBeside
	// DuplicateKid serves the real keys plus a second, different key (the attacker's public
	// key) under the first real key's kid, after it. A client that lets the later key win
	// accepts the attacker's signatures under a genuine kid; one that refuses the whole set
	// misses a key rotated in meanwhile. betterauthz trusts neither key of that kid and keeps
	// the others.
	DuplicateKid
	// DuplicateKidSame serves the real keys with the first one repeated identically.
	DuplicateKidSame
	// DuplicateMember serves the real keys with a JSON member named twice inside the first
	// real key: its public value ("x" for OKP and EC keys, "n" for RSA) appears first with a
	// decoy (the attacker's public key for Ed25519), then with the real value. RFC 7515 §4
	// allows only rejecting it or taking the lexically last member, which is the real one, so
	// a first-wins parser is the one fooled.
	DuplicateMember
	// Reset reads the request, then closes the connection with SO_LINGER 0 so the client sees
	// a TCP reset instead of an answer.
	Reset
	// Empty answers 200 with {"keys":[]}: a valid set with no keys (Better Auth serves this
	// legitimately when every key's grace period has ended).
	Empty

	numModes // not a mode: the count
)

var modeNames = [numModes]string{
	Normal: "normal", Status500: "status500", Hang: "hang", SlowDrip: "slow-drip", Garbage: "garbage",
	Truncated: "truncated", Huge: "huge", Redirect: "redirect", UnsupportedBeside: "unsupported-beside",
	DuplicateKid: "duplicate-kid", DuplicateKidSame: "duplicate-kid-same", DuplicateMember: "duplicate-member",
	Reset: "reset", Empty: "empty",
}

// String is the mode's name, as in reports: "normal", "status500", "slow-drip", ...
func (m Mode) String() string {
	if m >= 0 && m < numModes {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Faults lists every mode but Normal, in declaration order, for callers that cycle through
// them.
func Faults() []Mode {
	out := make([]Mode, 0, numModes-1)
	for m := Normal + 1; m < numModes; m++ {
		out = append(out, m)
	}
	return out
}
