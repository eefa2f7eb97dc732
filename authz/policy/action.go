package policy

import "fmt"

// Action is what a rule asks of a request: written as a rule's "policy".
type Action int

const (
	// Authenticated needs a valid token (and the rule's claims, if any).
	Authenticated Action = iota
	// Public lets everything through; a valid token still yields identity headers.
	Public
	// Deny refuses everything with 403.
	Deny
)

var actionNames = map[Action]string{Authenticated: "authenticated", Public: "public", Deny: "deny"}

func (a Action) String() string { return actionNames[a] }

// ParseAction reads "public", "authenticated" or "deny".
func ParseAction(s string) (Action, error) {
	for a, name := range actionNames {
		if s == name {
			return a, nil
		}
	}
	return 0, fmt.Errorf("%q is not a policy (public, authenticated, deny)", clip(s))
}
