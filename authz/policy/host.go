package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// hostPattern matches request hosts (as authz normalizes them: lower case, no port, no trailing
// dot): "*" matches any host, "*.example.com" any subdomain (at any depth) of example.com,
// anything else exactly.
type hostPattern string

func compileHost(h string) (hostPattern, error) {
	h = strings.ToLower(strings.TrimSpace(h))
	switch {
	case h == "":
		return "", errors.New("host pattern is empty")
	case strings.ContainsAny(h, "/ ?#@"):
		return "", fmt.Errorf("host pattern %q must be a host name (no scheme, path or port)", clip(h))
	case strings.Contains(h, ":") && !strings.HasPrefix(h, "["):
		return "", fmt.Errorf("host pattern %q must not have a port: ports are ignored", clip(h))
	}
	h = strings.TrimSuffix(h, ".")
	if strings.HasPrefix(h, "[") {
		// An IPv6 literal matches in the canonical form requests are read in.
		addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
		if err != nil || !strings.HasSuffix(h, "]") || !addr.Is6() || addr.Zone() != "" {
			return "", fmt.Errorf("host pattern %q is not an IPv6 address in brackets", clip(h))
		}
		h = "[" + addr.String() + "]"
	}
	return hostPattern(h), nil
}

func (hp hostPattern) match(host string) bool {
	return globMatch(string(hp), host)
}
