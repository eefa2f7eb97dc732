package policy

import (
	"fmt"
	"strings"
)

// Standing is what Better Auth's plugins say of a caller, beyond its claims: its role in the
// active organization (organization plugin), whether an admin is impersonating it (admin
// plugin), whether it is an anonymous user (anonymous plugin). Rules' orgRoles, impersonated
// and anonymous conditions read it.
type Standing struct {
	// Organization is the active organization's id ("" for none).
	Organization string
	// Role is the caller's role in the active organization, comma-joined when several
	// ("admin,member"); "" when it has none or it is not known.
	Role string
	// Impersonated: an admin is acting as the user (session.impersonatedBy is set).
	Impersonated bool
	// Anonymous: the user signed in anonymously (user.isAnonymous).
	Anonymous bool
	// ImpersonationUnknown, AnonymityUnknown: the credential does not say (a JWT whose payload
	// leaves the claim out, an OAuth access token). A rule that asks is then unmet: it fails
	// closed.
	ImpersonationUnknown, AnonymityUnknown bool
}

// HasRole reports whether the comma-joined role list holds one of roles.
func (s Standing) HasRole(roles []string) bool {
	for have := range strings.SplitSeq(s.Role, ",") {
		have = strings.TrimSpace(have)
		for _, want := range roles {
			if have != "" && have == want {
				return true
			}
		}
	}
	return false
}

// MaxRuleRoles bounds the roles a rule's orgRoles lists.
const MaxRuleRoles = 32

// NeedsRole reports whether the rule reads the caller's role in the active organization.
func (r *Rule) NeedsRole() bool { return len(r.Spec.OrgRoles) > 0 }

// Unmet describes the first of the rule's organization, impersonation and anonymity
// conditions that s does not meet, for a 403's error_description.
func (r *Rule) Unmet(s Standing) (description string, unmet bool) {
	spec := &r.Spec
	if len(spec.OrgRoles) > 0 {
		switch {
		case s.Organization == "":
			return "this route needs an active organization", true
		case !s.HasRole(spec.OrgRoles):
			return "this route needs the role " + strings.Join(spec.OrgRoles, " or ") + " in the active organization", true
		}
	}
	if spec.Impersonated != nil && s.ImpersonationUnknown {
		return "this route asks whether the session is impersonated, and this credential does not say (a JWT needs the impersonatedBy claim)", true
	}
	if spec.Anonymous != nil && s.AnonymityUnknown {
		return "this route asks whether the user is anonymous, and this credential does not say (a JWT needs the isAnonymous claim)", true
	}
	if spec.Impersonated != nil && *spec.Impersonated != s.Impersonated {
		if s.Impersonated {
			return "this route is closed to impersonated sessions", true
		}
		return "this route is for impersonated sessions only", true
	}
	if spec.Anonymous != nil && *spec.Anonymous != s.Anonymous {
		if s.Anonymous {
			return "this route is closed to anonymous users", true
		}
		return "this route is for anonymous users only", true
	}
	return "", false
}

// compileStanding checks the rule's standing conditions.
func compileStanding(spec RuleSpec, path string, action Action, bad func(key, format string, args ...any)) {
	if len(spec.OrgRoles) > 0 {
		key := JoinPath(path, "orgRoles")
		if action != Authenticated {
			bad(key, "only apply to authenticated rules, not %s", action)
		}
		if len(spec.OrgRoles) > MaxRuleRoles {
			bad(key, "lists %d roles, more than %d", len(spec.OrgRoles), MaxRuleRoles)
		}
		for i, role := range spec.OrgRoles {
			if i == MaxRuleRoles {
				break
			}
			if role == "" || len(role) > MaxRuleName || strings.ContainsAny(role, ", \t\r\n") {
				bad(fmt.Sprintf("%s[%d]", key, i), "%q is not a role name (no commas or spaces; Better Auth joins several roles with commas)", clip(role))
			}
		}
	}
	if spec.Impersonated != nil && action != Authenticated {
		bad(JoinPath(path, "impersonated"), "only applies to authenticated rules, not %s", action)
	}
	if spec.Anonymous != nil && action != Authenticated {
		bad(JoinPath(path, "anonymous"), "only applies to authenticated rules, not %s", action)
	}
}
