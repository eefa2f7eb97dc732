package kube

import (
	"fmt"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/betterauthz/betterauthz/authz/policy"
)

// Translators: a Kubernetes object of each kind watched, as the hosts and paths it serves and
// what decides whether it routes any traffic (its Ingress class, the Gateways that accepted it).

func fromMeta(kind, apiVersion string, m *metav1.ObjectMeta) *Object {
	return &Object{Kind: kind, APIVersion: apiVersion, Namespace: m.Namespace, Name: m.Name, UID: string(m.UID),
		ResourceVersion: m.ResourceVersion, Created: m.CreationTimestamp.Time, Annotations: m.Annotations}
}

// Annotations of Ingress controllers that make them read paths as regular expressions:
// ingress-nginx's use-regex and rewrite-target (either one makes every path of the Ingress's
// hosts a case-insensitive regular expression, other Ingresses' on those hosts included), and
// NGINX Inc.'s path-regex.
const (
	annUseRegex       = "nginx.ingress.kubernetes.io/use-regex"
	annRewriteTarget  = "nginx.ingress.kubernetes.io/rewrite-target"
	annNginxOrgRegex  = "nginx.org/path-regex"
	annNginxComRegex  = "nginx.com/path-regex"
	annIngressClass   = "kubernetes.io/ingress.class"
	annDefaultClass   = "ingressclass.kubernetes.io/is-default-class"
	regexMetaChars    = `^$*+?()[]{}|\`
	defaultParentKind = "Gateway"
	gatewayGroup      = "gateway.networking.k8s.io"
)

// fromIngress reads an Ingress's class, hosts and paths: each rule's host with its HTTP paths
// (Exact, or an element-wise prefix for Prefix and ImplementationSpecific). Rules without a
// host, and a default backend, serve whatever hosts the ingress controller gives them —
// betterauthz cannot tell which, so they are left out (with a note when the Ingress has a
// policy): indexed as "every host", one Ingress could set the policy of the whole mesh. Paths
// its controller reads as regular expressions make it Regex (see Object.Regex).
func fromIngress(ing *networkingv1.Ingress) *Object {
	o := fromMeta("Ingress", "networking.k8s.io/v1", &ing.ObjectMeta)
	if ing.Spec.IngressClassName != nil {
		o.IngressClass = *ing.Spec.IngressClassName
	}
	if o.IngressClass == "" {
		o.IngressClass = strings.TrimSpace(ing.Annotations[annIngressClass])
	}
	useRegex, _ := strconv.ParseBool(strings.TrimSpace(ing.Annotations[annUseRegex])) // as ingress-nginx reads it ("1", "t", "TRUE"...)
	o.regexHosts = useRegex || ing.Annotations[annRewriteTarget] != "" ||
		ing.Annotations[annNginxOrgRegex] != "" || ing.Annotations[annNginxComRegex] != ""
	if o.regexHosts {
		o.regex("its annotations (" + strings.Join(regexAnnotations(ing.Annotations), ", ") + ") make its controller read its paths as regular expressions")
	}
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
				if pathType(p) == networkingv1.PathTypeImplementationSpecific && strings.ContainsAny(p.Path, regexMetaChars) {
					o.regex(fmt.Sprintf("path %q (ImplementationSpecific) looks like a regular expression", p.Path))
				}
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

func regexAnnotations(ann map[string]string) []string {
	var out []string
	for _, k := range []string{annUseRegex, annRewriteTarget, annNginxOrgRegex, annNginxComRegex} {
		if v, ok := ann[k]; ok && v != "" {
			out = append(out, k)
		}
	}
	return out
}

func ingressPath(p networkingv1.HTTPIngressPath) policy.RoutedPath {
	v := p.Path
	if v == "" {
		v = "/"
	}
	return policy.RoutedPath{Value: v, Exact: pathType(p) == networkingv1.PathTypeExact}
}

// pathType is a path's type ("" when the Ingress leaves it out).
func pathType(p networkingv1.HTTPIngressPath) networkingv1.PathType {
	if p.PathType == nil {
		return ""
	}
	return *p.PathType
}

// fromHTTPRoute reads an HTTPRoute's hostnames, each rule's path matches (a rule without
// matches serves every path) and the Gateways that accepted it. A route without hostnames takes
// every host of its Gateway listeners, which betterauthz does not see: it is left out (with a
// note when it has a policy). RegularExpression paths cannot be read: they make it Regex.
func fromHTTPRoute(u *unstructured.Unstructured) *Object {
	o := &Object{Kind: "HTTPRoute", APIVersion: "gateway.networking.k8s.io/v1", Namespace: u.GetNamespace(), Name: u.GetName(),
		UID: string(u.GetUID()), ResourceVersion: u.GetResourceVersion(), Created: u.GetCreationTimestamp().Time, Annotations: u.GetAnnotations()}
	o.ParentRefs, o.AcceptedBefore = acceptedBy(u)
	for _, p := range o.ParentRefs {
		if !containsString(o.Parents, p.Gateway) {
			o.Parents = append(o.Parents, p.Gateway)
		}
	}
	// Without hostnames, it serves its listeners' (set once the Gateways are known).
	hosts, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "hostnames")
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
				o.regex(fmt.Sprintf("spec.rules[%d].matches[%d]: %s path %q cannot be read as a literal path", i, j, typ, value))
			}
		}
	}
	if len(route.Paths) > 0 || o.Regex {
		o.Routes = []policy.ServedRoute{route}
	}
	return o
}

// acceptedBy lists the Gateways that accepted the route as it is now: status.parents[] entries
// for a Gateway whose Accepted condition is True and observed the route's current generation.
// A stale acceptance (of an earlier spec) does not count: the Gateway has not yet seen what the
// route routes now. before reports whether some Gateway accepted an earlier generation.
func acceptedBy(u *unstructured.Unstructured) (out []ParentRef, before bool) {
	parents, _, _ := unstructured.NestedSlice(u.Object, "status", "parents")
	for _, p := range parents {
		parent, _ := p.(map[string]any)
		ref, _, _ := unstructured.NestedMap(parent, "parentRef")
		group, hasGroup, _ := unstructured.NestedString(ref, "group")
		kind, hasKind, _ := unstructured.NestedString(ref, "kind")
		name, _, _ := unstructured.NestedString(ref, "name")
		namespace, _, _ := unstructured.NestedString(ref, "namespace")
		section, _, _ := unstructured.NestedString(ref, "sectionName")
		port, _, _ := unstructured.NestedInt64(ref, "port")
		if (hasGroup && group != gatewayGroup) || (hasKind && kind != defaultParentKind) || name == "" {
			continue
		}
		if namespace == "" {
			namespace = u.GetNamespace()
		}
		conds, _, _ := unstructured.NestedSlice(parent, "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			gen, _, _ := unstructured.NestedInt64(m, "observedGeneration")
			if m["type"] != "Accepted" || m["status"] != "True" {
				continue
			}
			if gen != u.GetGeneration() {
				before = true
				continue
			}
			out = append(out, ParentRef{Gateway: namespace + "/" + name, Section: section, Port: port})
			break
		}
	}
	return out, before
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
