// Package kube connects betterauthz to Kubernetes with client-go: config from a watched
// ConfigMap, and per-route policy from the betterauthz.io/ annotations of Services, Ingresses
// and Gateway-API HTTPRoutes. No CRD of its own.
package kube

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
)

// Bounds on the index: far above what Ingresses and HTTPRoutes written by hand hold (an
// HTTPRoute may hold 16 hostnames of 16 rules of 64 matches), and what keeps one team's objects
// from growing every sidecar's index or every rebuild.
const (
	// MaxObjectRoutes bounds the (host, path) pairs one object may route and still be indexed.
	MaxObjectRoutes = 4096
	// MaxNamespaceRoutes bounds the (host, path) pairs of one namespace's objects together; past
	// it, its newest objects are left out.
	MaxNamespaceRoutes = 16384
	// MaxNamespacePolicyBytes bounds the betterauthz.io/ annotations of one namespace's objects
	// together; past it, the policy of its newest objects is ignored.
	MaxNamespacePolicyBytes = 256 << 10
)

// Object is what the index needs of a Kubernetes object, whatever its kind.
type Object struct {
	Kind, APIVersion, Namespace, Name, UID, ResourceVersion string
	// Created is its creationTimestamp: the oldest claim to a host owns it.
	Created     time.Time
	Annotations map[string]string
	// Routes are the hosts and paths the object routes (Ingress, HTTPRoute). A Service's are
	// derived from its name: every path of its cluster DNS names.
	Routes []policy.ServedRoute
	// IngressClass is an Ingress's class: spec.ingressClassName, else its
	// kubernetes.io/ingress.class annotation; "" for neither (the cluster's default class).
	IngressClass string
	// Parents are the Gateways ("namespace/name") that accepted an HTTPRoute at its current
	// generation (ParentRefs: with the listener each named); AcceptedBefore, whether one accepted
	// an earlier generation. An HTTPRoute's Routes hold its own hostnames (none: its listeners').
	Parents        []string
	ParentRefs     []ParentRef
	AcceptedBefore bool
	// Regex: its controller reads (some of) its paths as regular expressions, which betterauthz
	// cannot match: it may tighten its whole hosts, never open (policy.Object.TightenOnly).
	// RegexReasons say why, for the report.
	Regex        bool
	RegexReasons []string
	// Notes are things about the object's routing that the index could not use, reported with
	// the object.
	Notes []string

	// regexHosts: an Ingress whose annotations make its controller read every path of its hosts
	// as a regular expression — those of other Ingresses of the same class on those hosts too.
	regexHosts bool
	// class is an Ingress's class once resolved (the default class for none), while building.
	class string
	// claimOnly: indexed for its claims to hosts only (see policy.Object.ClaimOnly).
	claimOnly bool
}

// Ref names the object, e.g. "Service shop/orders".
func (o *Object) Ref() string { return o.Kind + " " + o.Namespace + "/" + o.Name }

func (o *Object) regex(reason string) {
	o.Regex = true
	if !slices.Contains(o.RegexReasons, reason) {
		o.RegexReasons = append(o.RegexReasons, reason)
	}
}

// hasPolicy reports whether any betterauthz.io/ annotation is set.
func (o *Object) hasPolicy() bool {
	for k := range o.Annotations {
		if strings.HasPrefix(k, "betterauthz.io/") {
			return true
		}
	}
	return false
}

// Invalid is an object whose annotations could not be used: its routes fall back to the config.
type Invalid struct {
	Object *Object
	Err    error
}

// Cluster is what, besides the objects, decides which of them route traffic to this
// betterauthz's proxies.
type Cluster struct {
	// IngressClasses are the IngressClass objects that exist, by name, and whether each is
	// marked the cluster's default (ingressclass.kubernetes.io/is-default-class: "true").
	IngressClasses map[string]bool
	// WorkloadNamespace, when set (--workload-namespace: a sidecar), is the namespace of the one
	// workload this betterauthz guards: objects of other namespaces never decide.
	WorkloadNamespace string
	// Gateways are the listeners of each Gateway ("namespace/name"); nil when Gateways are not
	// watched (no Gateway API): HTTPRoutes then serve the hostnames they name.
	Gateways map[string][]Listener
}

// defaultClass is the cluster's default IngressClass: "" when none is marked, or more than one
// (then a class-less Ingress is not known to be served by any).
func (c Cluster) defaultClass() string {
	var def []string
	for name, isDefault := range c.IngressClasses {
		if isDefault {
			def = append(def, name)
		}
	}
	if len(def) != 1 {
		return ""
	}
	return def[0]
}

// Index is the outcome of indexing the objects.
type Index struct {
	Objects *policy.ObjectIndex
	// Invalid objects: their annotations are ignored, their requests fall back to the config.
	Invalid []Invalid
	// Ignored objects route no traffic to the proxies that ask this betterauthz (an Ingress of
	// a class not served, an HTTPRoute no Gateway accepted; reported only for objects with a
	// policy), or are past a bound of the index: their annotations do not apply.
	Ignored []Ignored
	// Dropped are hosts and objects the index left out (policy.ObjectIndex.Dropped).
	Dropped []string
}

// Ignored is an annotated object left out of the index, and why.
type Ignored struct {
	Object *Object
	Reason string
}

// Builder compiles objects into the routes the checks consult, keeping what it parsed for the
// next build: an object whose annotations did not change is not parsed again, so one team's
// edit does not wait for every other object of the cluster to be read anew.
type Builder struct {
	parsed map[string]parsedRules // canonical annotations -> rules
}

type parsedRules struct {
	rules *policy.ObjectRules
	err   error
}

// BuildIndex compiles objects once (see Builder.Build).
func BuildIndex(objects []*Object, a config.Annotations, c Cluster) Index {
	var b Builder
	return b.Build(objects, a, c)
}

// Build compiles the objects into the routes the checks consult. Only objects that route
// traffic to the proxies that ask this betterauthz are indexed: Services; Ingresses of a class
// that exists (and is listed in annotations.ingressClasses, when that is set); HTTPRoutes
// accepted by a Gateway (one of annotations.gateways, when set). With a workload namespace,
// only that namespace's objects. Those are indexed annotated or not, so that when an
// unannotated object serves a request the config decides, not some broader annotated object.
// An object with a malformed annotation is indexed without a policy (its requests fall back
// to the config) and listed in Invalid; it never affects other objects.
func (b *Builder) Build(objects []*Object, a config.Annotations, c Cluster) Index {
	var out Index
	served := servedObjects(objects, a, c, &out)
	markRegexHosts(served)
	// Oldest first: a namespace's budgets go to its oldest objects.
	slices.SortStableFunc(served, func(x, y *Object) int {
		return cmp.Or(x.Created.Compare(y.Created), cmp.Compare(x.Ref(), y.Ref()))
	})
	bb := buildState{parsed: make(map[string]parsedRules, len(b.parsed)), routes: map[string]int{}, policyBytes: map[string]int{}}
	var mesh []*policy.Object
	for _, o := range served {
		if mo := b.index(o, a, c, &bb, &out); mo != nil {
			mesh = append(mesh, mo)
		}
	}
	b.parsed = bb.parsed
	out.Objects = policy.NewObjectIndex(mesh)
	out.Dropped = append(out.Dropped, out.Objects.Dropped...)
	return out
}

// buildState is what one Build counts as it goes.
type buildState struct {
	parsed      map[string]parsedRules
	routes      map[string]int // namespace -> routes indexed
	policyBytes map[string]int // namespace -> betterauthz.io/ bytes parsed
}

// servedObjects keeps the objects that route traffic to the proxies this betterauthz answers
// (see notServed), reporting the annotated others in out.Ignored. An HTTPRoute its Gateway
// accepted before its latest edit is kept for its claims to its hosts until the Gateway
// answers: the owner's edit must not hand them to others.
func servedObjects(objects []*Object, a config.Annotations, c Cluster, out *Index) []*Object {
	served := make([]*Object, 0, len(objects))
	for _, o := range objects {
		if c.WorkloadNamespace != "" && o.Namespace != c.WorkloadNamespace {
			continue
		}
		o.claimOnly = false
		if reason := notServed(o, a, c); reason != "" {
			if o.hasPolicy() {
				out.Ignored = append(out.Ignored, Ignored{Object: o, Reason: reason})
			}
			if o.Kind == "HTTPRoute" && o.AcceptedBefore && len(o.Parents) == 0 {
				o.claimOnly = true
				served = append(served, o)
			}
			continue
		}
		served = append(served, o)
	}
	return served
}

// index turns one served object into the index's form, within its namespace's budgets; nil
// when it is left out (and reported in out).
func (b *Builder) index(o *Object, a config.Annotations, c Cluster, bb *buildState, out *Index) *policy.Object {
	mo := &policy.Object{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Created: o.Created, Routes: o.Routes, TightenOnly: o.Regex, ClaimOnly: o.claimOnly}
	switch o.Kind {
	case "Service":
		mo.Routes = serviceRoutes(o.Name, o.Namespace, a.ClusterDomain)
	case "HTTPRoute":
		hosts, reason := servedHostnames(o, a, c)
		if reason != "" {
			if o.hasPolicy() {
				out.Ignored = append(out.Ignored, Ignored{Object: o, Reason: reason})
			}
			return nil
		}
		mo.Routes = nil
		for _, r := range o.Routes {
			mo.Routes = append(mo.Routes, policy.ServedRoute{Hosts: hosts, Paths: r.Paths})
		}
	}
	n := routeCount(mo.Routes)
	switch {
	case n > MaxObjectRoutes:
		out.Ignored = append(out.Ignored, Ignored{Object: o, Reason: fmt.Sprintf("it routes %d host and path pairs, more than the %d betterauthz indexes for one object", n, MaxObjectRoutes)})
		return nil
	case bb.routes[o.Namespace]+n > MaxNamespaceRoutes:
		out.Ignored = append(out.Ignored, Ignored{Object: o, Reason: fmt.Sprintf("the objects of namespace %s route more than the %d host and path pairs betterauthz indexes for one namespace", o.Namespace, MaxNamespaceRoutes)})
		return nil
	}
	bb.routes[o.Namespace] += n
	if !o.hasPolicy() || o.claimOnly {
		return mo
	}
	size := policy.PolicyBytes(o.Annotations)
	if bb.policyBytes[o.Namespace]+size > MaxNamespacePolicyBytes {
		out.Invalid = append(out.Invalid, Invalid{Object: o, Err: fmt.Errorf("the betterauthz.io/ annotations of namespace %s come to more than %d bytes: the newest objects' are ignored", o.Namespace, MaxNamespacePolicyBytes)})
		return mo
	}
	bb.policyBytes[o.Namespace] += size
	op, err := b.rules(bb.parsed, o, a)
	if err != nil {
		out.Invalid = append(out.Invalid, Invalid{Object: o, Err: err})
	} else {
		mo.Rules = op
	}
	return mo
}

// rules parses an object's annotations, or takes what the last build parsed of the same ones.
func (b *Builder) rules(parsed map[string]parsedRules, o *Object, a config.Annotations) (*policy.ObjectRules, error) {
	// What Check allows depends on the settings: they are part of the key.
	key := fmt.Sprintf("%s\x00%s\x00%t", policy.CanonicalKey(o.Annotations), o.Ref(), a.AllowPublic)
	p, ok := b.parsed[key]
	if !ok {
		p.rules, p.err = policy.ParseObjectRules(o.Annotations, o.Ref())
		if p.err == nil && p.rules != nil {
			p.rules.SetNamespace(o.Namespace)
			// Not the issuer names: a rule naming an issuer the config lacks (or no longer has)
			// stays in force and refuses every token (403). Made invalid, the object would fall
			// back to the config, and a config edit elsewhere could open it.
			if err := p.rules.Check(policy.Limits{RefuseDryRun: !a.AllowPublic}); err != nil {
				p.rules, p.err = nil, err
			}
		}
	}
	parsed[key] = p
	return p.rules, p.err
}

// notServed says why an object routes no traffic to the proxies this betterauthz answers; ""
// when it does.
func notServed(o *Object, a config.Annotations, c Cluster) string {
	switch o.Kind {
	case "Ingress":
		class := o.IngressClass
		if class == "" {
			if class = c.defaultClass(); class == "" {
				return "it names no Ingress class, and the cluster has no single default IngressClass"
			}
		}
		o.class = class
		if _, ok := c.IngressClasses[class]; !ok {
			return fmt.Sprintf("its Ingress class %q names no IngressClass object", class)
		}
		if len(a.IngressClasses) > 0 && !slices.Contains(a.IngressClasses, class) {
			return fmt.Sprintf("its Ingress class %q is not one of annotations.ingressClasses", class)
		}
	case "HTTPRoute":
		if len(o.Parents) == 0 {
			return "no Gateway has accepted it at its current generation (status.parents)"
		}
		if len(a.Gateways) > 0 && !slices.ContainsFunc(o.Parents, func(p string) bool { return slices.Contains(a.Gateways, p) }) {
			return fmt.Sprintf("it is accepted by %s, none of annotations.gateways", strings.Join(o.Parents, ", "))
		}
	}
	return ""
}

// markRegexHosts makes Regex every Ingress on a host where an Ingress of the same class has
// annotations that make the controller read all the host's paths as regular expressions
// (ingress-nginx merges the Ingresses of a host into one server).
func markRegexHosts(objects []*Object) {
	regexHosts := map[string]string{} // class "|" host -> the Ingress that made it so
	for _, o := range objects {
		if o.Kind != "Ingress" || !o.regexHosts {
			continue
		}
		for _, r := range o.Routes {
			for _, h := range r.Hosts {
				regexHosts[o.class+"|"+strings.ToLower(h)] = o.Ref()
			}
		}
	}
	if len(regexHosts) == 0 {
		return
	}
	for _, o := range objects {
		if o.Kind != "Ingress" || o.regexHosts {
			continue
		}
		for _, r := range o.Routes {
			for _, h := range r.Hosts {
				if by, ok := regexHosts[o.class+"|"+strings.ToLower(h)]; ok {
					o.regex(fmt.Sprintf("%s makes the controller read every path of host %s as a regular expression", by, h))
				}
			}
		}
	}
}

func routeCount(routes []policy.ServedRoute) int {
	n := 0
	for _, r := range routes {
		n += len(r.Hosts) * max(len(r.Paths), 1)
	}
	return n
}

// serviceRoutes are the names a Service answers to inside the cluster, every path of them.
// Those under .svc belong to its namespace, whoever else names them (see policy.ObjectIndex).
func serviceRoutes(name, namespace, clusterDomain string) []policy.ServedRoute {
	return []policy.ServedRoute{{Hosts: ServiceHosts(name, namespace, clusterDomain), Paths: []policy.RoutedPath{{Value: "/"}}}}
}

// CheckNamespace reports whether ns can name a namespace.
func CheckNamespace(ns string) error {
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return fmt.Errorf("%q is not a namespace name: %s", ns, strings.Join(errs, "; "))
	}
	return nil
}

// ServiceHosts are the names a Service answers to inside the cluster.
func ServiceHosts(name, namespace, clusterDomain string) []string {
	return []string{
		name,
		name + "." + namespace,
		name + "." + namespace + ".svc",
		name + "." + namespace + ".svc." + clusterDomain,
	}
}
