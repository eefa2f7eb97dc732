package kube

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/betterauthz/betterauthz/authz/policy"
)

// Translators: a Kubernetes object of each kind watched, as the hosts and paths it serves.

func fromMeta(kind, apiVersion string, m *metav1.ObjectMeta) *Object {
	return &Object{Kind: kind, APIVersion: apiVersion, Namespace: m.Namespace, Name: m.Name, UID: string(m.UID),
		ResourceVersion: m.ResourceVersion, Annotations: m.Annotations}
}

// fromIngress reads an Ingress's hosts and paths: each rule's host with its HTTP paths (Exact,
// or Prefix for Prefix and ImplementationSpecific). Rules without a host, and a default
// backend, serve whatever hosts the ingress controller gives them — betterauthz cannot tell
// which, so they are left out (with a note when the Ingress has a policy): indexed as "every
// host", one Ingress could set the policy of the whole mesh.
func fromIngress(ing *ingress) *Object {
	o := fromMeta("Ingress", "networking.k8s.io/v1", &ing.ObjectMeta)
	hostless := ing.Spec.DefaultBackend != nil
	for _, rule := range ing.Spec.Rules {
		if rule.Host == "" {
			hostless = true
			continue
		}
		route := policy.ServedRoute{Hosts: []string{rule.Host}}
		if rule.HTTP == nil {
			route.Paths = []policy.RoutedPath{{Value: "/"}}
		} else {
			for _, p := range rule.HTTP.Paths {
				route.Paths = append(route.Paths, ingressPath(p))
			}
		}
		o.Routes = append(o.Routes, route)
	}
	if hostless && o.hasPolicy() {
		o.Notes = append(o.Notes, "rules without a host (or a default backend) serve whatever hosts the ingress controller sends them; betterauthz cannot tell which, so its annotations do not apply to them")
	}
	return o
}

func ingressPath(p ingressPathRule) policy.RoutedPath {
	v := p.Path
	if v == "" {
		v = "/"
	}
	return policy.RoutedPath{Value: v, Exact: p.PathType == "Exact"}
}

// fromHTTPRoute reads an HTTPRoute's hostnames and each rule's path matches (a rule without
// matches serves every path). Only routes a Gateway has accepted (status.parents[].conditions
// Accepted=True) serve requests, so only those are indexed: a route in any namespace can name
// any hostname, but the Gateway decides whether it gets that traffic. A route without
// hostnames takes every host of its Gateway listeners, which betterauthz does not see: it is
// left out too. RegularExpression paths cannot be matched here: they are left out. Each
// omission is noted when the route has a policy.
func fromHTTPRoute(u *unstructured.Unstructured) *Object {
	o := &Object{Kind: "HTTPRoute", APIVersion: "gateway.networking.k8s.io/v1", Namespace: u.GetNamespace(), Name: u.GetName(),
		UID: string(u.GetUID()), ResourceVersion: u.GetResourceVersion(), Annotations: u.GetAnnotations()}
	note := func(n string) {
		if o.hasPolicy() {
			o.Notes = append(o.Notes, n)
		}
	}
	if !accepted(u) {
		note("not accepted by any Gateway (status.parents): it serves no request yet, so its annotations do not apply")
		return o
	}
	hosts, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "hostnames")
	if len(hosts) == 0 {
		note("no spec.hostnames: it serves every host of its Gateway listeners, which betterauthz cannot see, so its annotations do not apply")
		return o
	}
	route := policy.ServedRoute{Hosts: hosts}
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	for i, r := range rules {
		rule, _ := r.(map[string]any)
		matches, _, _ := unstructured.NestedSlice(rule, "matches")
		if len(matches) == 0 {
			route.Paths = append(route.Paths, policy.RoutedPath{Value: "/"})
			continue
		}
		for j, m := range matches {
			match, _ := m.(map[string]any)
			typ, found, _ := unstructured.NestedString(match, "path", "type")
			value, _, _ := unstructured.NestedString(match, "path", "value")
			if !found {
				typ = "PathPrefix" // the API's default
			}
			if value == "" {
				value = "/"
			}
			switch typ {
			case "Exact":
				route.Paths = append(route.Paths, policy.RoutedPath{Value: value, Exact: true})
			case "PathPrefix":
				route.Paths = append(route.Paths, policy.RoutedPath{Value: value})
			default:
				// Which paths it serves is unknown: it claims the whole host without a policy,
				// so that the config (not a broader annotated object) decides there.
				o.UnknownPaths = hosts
				note(fmt.Sprintf("spec.rules[%d].matches[%d]: %s path %q is not matched by betterauthz; requests it routes fall back to the config", i, j, typ, value))
			}
		}
	}
	if len(route.Paths) > 0 {
		o.Routes = []policy.ServedRoute{route}
	}
	return o
}

// accepted reports whether some Gateway has accepted the route.
func accepted(u *unstructured.Unstructured) bool {
	parents, _, _ := unstructured.NestedSlice(u.Object, "status", "parents")
	for _, p := range parents {
		conds, _, _ := unstructured.NestedSlice(p.(map[string]any), "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Accepted" && m["status"] == "True" {
				return true
			}
		}
	}
	return false
}
