package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

func (f *File) annotations(c *checker, s *Settings) {
	s.Annotations = Annotations{
		Enabled:       deref(f.Annotations.Enabled, true),
		AllowPublic:   deref(f.Annotations.AllowPublic, false),
		ClusterDomain: cmp.Or(strings.TrimSuffix(f.Annotations.ClusterDomain, "."), "cluster.local"),
	}
	for i, ns := range f.Annotations.Namespaces {
		if !isDNSLabel(ns) {
			c.bad(fmt.Sprintf("annotations.namespaces[%d]", i), "%q is not a namespace name", ns)
			continue
		}
		if !slices.Contains(s.Annotations.Namespaces, ns) {
			s.Annotations.Namespaces = append(s.Annotations.Namespaces, ns)
		}
	}
	slices.Sort(s.Annotations.Namespaces)
	for i, class := range f.Annotations.IngressClasses {
		if !isDNSSubdomain(class) {
			c.bad(fmt.Sprintf("annotations.ingressClasses[%d]", i), "%q is not an IngressClass name", class)
			continue
		}
		if !slices.Contains(s.Annotations.IngressClasses, class) {
			s.Annotations.IngressClasses = append(s.Annotations.IngressClasses, class)
		}
	}
	slices.Sort(s.Annotations.IngressClasses)
	for i, gw := range f.Annotations.Gateways {
		ns, name, ok := strings.Cut(gw, "/")
		if !ok || !isDNSLabel(ns) || !isDNSSubdomain(name) {
			c.bad(fmt.Sprintf("annotations.gateways[%d]", i), "%q is not NAMESPACE/NAME of a Gateway", gw)
			continue
		}
		if !slices.Contains(s.Annotations.Gateways, gw) {
			s.Annotations.Gateways = append(s.Annotations.Gateways, gw)
		}
	}
	slices.Sort(s.Annotations.Gateways)
	for _, label := range strings.Split(s.Annotations.ClusterDomain, ".") {
		if !isDNSLabel(label) {
			c.bad("annotations.clusterDomain", "%q is not a DNS domain", f.Annotations.ClusterDomain)
			break
		}
	}
}

// isDNSSubdomain: DNS labels joined by dots, at most 253 bytes (Kubernetes object names).
func isDNSSubdomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if !isDNSLabel(label) {
			return false
		}
	}
	return true
}

// isDNSLabel: lower-case letters, digits and '-', 1..63, not starting or ending with '-'.
func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
