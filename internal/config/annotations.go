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
		AllowPublic:   deref(f.Annotations.AllowPublic, true),
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
	for _, label := range strings.Split(s.Annotations.ClusterDomain, ".") {
		if !isDNSLabel(label) {
			c.bad("annotations.clusterDomain", "%q is not a DNS domain", f.Annotations.ClusterDomain)
			break
		}
	}
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
