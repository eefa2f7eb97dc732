package kube

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/internal/config"
)

// HTTPRouteGVR is the Gateway API resource watched when its CRD is installed.
var HTTPRouteGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

var serviceGVR = schema.GroupVersionResource{Version: "v1", Resource: "services"}

const (
	// rebuildSettle batches bursts of object events into one index rebuild.
	rebuildSettle = 100 * time.Millisecond
	// DefaultCRDPoll is how often the Gateway API CRD is looked for while it is absent.
	DefaultCRDPoll = 30 * time.Second
)

// AnnotationMetrics is told what the watcher finds.
type AnnotationMetrics interface {
	AnnotationIndex(objects, invalid, conflicts int)
	AnnotationInvalid(kind string)
}

// Annotations watches Services, Ingresses and HTTPRoutes (all namespaces or the configured ones)
// and publishes the per-object policies their betterauthz.io/ annotations set. A malformed
// annotation leaves that one object out — its requests fall back to the config — and is logged
// with the object and key, counted, and recorded as a Kubernetes Event on the object (where
// RBAC allows).
type Annotations struct {
	clients  *Clients
	log      *slog.Logger
	metrics  AnnotationMetrics
	recorder record.EventRecorder // nil: no events
	publish  func(*authz.MeshRoutes)
	crdPoll  time.Duration

	configure chan config.Annotations
	dirty     chan struct{}
	synced    atomic.Pointer[func() bool]
	invalid   atomic.Pointer[[]string]

	// Owned by Run's goroutine.
	sources  *sources          // nil when off
	reported map[string]string // object UID -> the error last reported for it
	clashes  map[string]bool   // conflicts and notes already logged
}

// NewAnnotations makes a watcher; Run starts it. publish receives every new index (nil when
// annotations are turned off). crdPoll is how often an absent Gateway API CRD is looked for
// (0: DefaultCRDPoll).
func NewAnnotations(c *Clients, log *slog.Logger, m AnnotationMetrics, recorder record.EventRecorder, publish func(*authz.MeshRoutes), crdPoll time.Duration) *Annotations {
	if crdPoll <= 0 {
		crdPoll = DefaultCRDPoll
	}
	a := &Annotations{
		clients: c, log: log, metrics: m, recorder: recorder, publish: publish, crdPoll: crdPoll,
		configure: make(chan config.Annotations, 1),
		dirty:     make(chan struct{}, 1),
		reported:  map[string]string{},
		clashes:   map[string]bool{},
	}
	never := func() bool { return false }
	a.synced.Store(&never)
	return a
}

// Configure hands the watcher the annotations settings in force; the latest wins.
func (a *Annotations) Configure(s config.Annotations) {
	select {
	case <-a.configure:
	default:
	}
	a.configure <- s
}

// Synced reports whether the watched objects have been listed once under the current settings
// (true when annotations are off).
func (a *Annotations) Synced() bool { return (*a.synced.Load())() }

// Invalid lists the objects whose annotations are currently ignored, with the reason.
func (a *Annotations) Invalid() []string {
	if p := a.invalid.Load(); p != nil {
		return *p
	}
	return nil
}

// Run watches until ctx ends.
func (a *Annotations) Run(ctx context.Context) error {
	var settings config.Annotations
	configured := false
	stop := func() {}
	defer func() { stop() }()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case s := <-a.configure:
			if configured && s.Equal(settings) {
				continue
			}
			restart := !configured || s.Enabled != settings.Enabled || !slices.Equal(s.Namespaces, settings.Namespaces)
			settings, configured = s, true
			if restart {
				stop()
				a.sources = nil
				if !s.Enabled {
					always := func() bool { return true }
					a.synced.Store(&always)
					a.invalid.Store(nil)
					a.publish(nil)
					a.log.Info("annotation policies off (annotations.enabled: false)")
					continue
				}
				sctx, cancel := context.WithCancel(ctx)
				stop = cancel
				a.sources = a.start(sctx, s.Namespaces)
				synced := a.sources.synced
				a.synced.Store(&synced)
			}
			a.markDirty()
		case <-a.dirty:
			settle.Reset(rebuildSettle)
		case <-settle.C:
			if a.sources == nil {
				continue
			}
			if !a.sources.synced() {
				settle.Reset(rebuildSettle) // try again once the caches have filled
				continue
			}
			a.rebuild(settings)
		}
	}
}

func (a *Annotations) markDirty() {
	select {
	case a.dirty <- struct{}{}:
	default:
	}
}

// sources are the informers for one set of namespaces.
type sources struct {
	services  []cache.SharedIndexInformer
	ingresses []cache.SharedIndexInformer
	mu        sync.Mutex
	routes    []cache.SharedIndexInformer // empty until the HTTPRoute CRD is found
}

func (s *sources) synced() bool {
	if s.services == nil && s.ingresses == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, set := range [][]cache.SharedIndexInformer{s.services, s.ingresses, s.routes} {
		for _, inf := range set {
			if !inf.HasSynced() {
				return false
			}
		}
	}
	return true
}

func (a *Annotations) start(ctx context.Context, namespaces []string) *sources {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	a.log.Info("watching annotations", "namespaces", namespaceList(namespaces))
	src := &sources{}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { a.markDirty() },
		UpdateFunc: func(any, any) { a.markDirty() },
		DeleteFunc: func(any) { a.markDirty() },
	}
	var dynFactories []dynamicinformer.DynamicSharedInformerFactory
	for _, ns := range namespaces {
		meta := metadatainformer.NewFilteredSharedInformerFactory(a.clients.Metadata, 0, ns, nil)
		svc := meta.ForResource(serviceGVR).Informer()
		_, _ = svc.AddEventHandler(handler)
		src.services = append(src.services, svc)
		meta.Start(ctx.Done())

		typed := informers.NewSharedInformerFactoryWithOptions(a.clients.Kube, 0, informers.WithNamespace(ns))
		ing := typed.Networking().V1().Ingresses().Informer()
		_, _ = ing.AddEventHandler(handler)
		src.ingresses = append(src.ingresses, ing)
		typed.Start(ctx.Done())

		dynFactories = append(dynFactories, dynamicinformer.NewFilteredDynamicSharedInformerFactory(a.clients.Dynamic, 0, ns, nil))
	}
	go func() {
		// The Gateway API is optional: without its CRD, HTTPRoutes are simply not watched, and
		// they are picked up once the CRD appears (checked every crdPoll).
		t := time.NewTicker(a.crdPoll)
		defer t.Stop()
		logged := false
		for {
			if a.clients.HasResource(HTTPRouteGVR) {
				src.mu.Lock()
				for _, f := range dynFactories {
					inf := f.ForResource(HTTPRouteGVR).Informer()
					_, _ = inf.AddEventHandler(handler)
					src.routes = append(src.routes, inf)
					f.Start(ctx.Done())
				}
				src.mu.Unlock()
				a.log.Info("watching HTTPRoutes (gateway.networking.k8s.io/v1)")
				a.markDirty()
				return
			}
			if !logged {
				a.log.Info("Gateway API HTTPRoute CRD not installed: HTTPRoute annotations off until it appears", "recheck", a.crdPoll.String())
				logged = true
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return src
}

// objects lists everything the informers hold, as index input.
func (s *sources) objects() []*Object {
	var out []*Object
	for _, inf := range s.services {
		for _, item := range inf.GetStore().List() {
			if m, ok := item.(*metav1.PartialObjectMetadata); ok {
				out = append(out, fromMeta("Service", "v1", &m.ObjectMeta))
			}
		}
	}
	for _, inf := range s.ingresses {
		for _, item := range inf.GetStore().List() {
			if ing, ok := item.(*networkingv1.Ingress); ok {
				out = append(out, fromIngress(ing))
			}
		}
	}
	s.mu.Lock()
	routes := slices.Clone(s.routes)
	s.mu.Unlock()
	for _, inf := range routes {
		for _, item := range inf.GetStore().List() {
			if u, ok := item.(*unstructured.Unstructured); ok {
				out = append(out, fromHTTPRoute(u))
			}
		}
	}
	return out
}

func (a *Annotations) rebuild(settings config.Annotations) {
	objs := a.sources.objects()
	mesh, invalid := BuildIndex(objs, settings)
	a.publish(mesh)
	a.metrics.AnnotationIndex(len(mesh.Objects), len(invalid), len(mesh.Conflicts))

	still := map[string]bool{}
	var list []string
	for _, inv := range invalid {
		o := inv.Object
		list = append(list, o.Ref()+": "+inv.Err.Error())
		still[o.UID] = true
		msg := inv.Err.Error()
		if a.reported[o.UID] == msg {
			continue
		}
		a.reported[o.UID] = msg
		a.metrics.AnnotationInvalid(o.Kind)
		a.log.Warn("annotation ignored: the object's requests fall back to the config",
			"object", o.Ref(), "kind", o.Kind, "namespace", o.Namespace, "name", o.Name, "error", msg)
		if a.recorder != nil {
			a.recorder.Event(&corev1.ObjectReference{Kind: o.Kind, APIVersion: o.APIVersion, Namespace: o.Namespace, Name: o.Name, UID: types.UID(o.UID), ResourceVersion: o.ResourceVersion},
				corev1.EventTypeWarning, "InvalidAnnotation", "betterauthz ignores this object's policy, its requests fall back to the config: "+truncate(msg, 900))
		}
	}
	for uid := range a.reported {
		if !still[uid] {
			delete(a.reported, uid)
		}
	}
	slices.Sort(list)
	a.invalid.Store(&list)
	for _, o := range objs {
		for _, n := range o.Notes {
			key := o.UID + "|" + n
			if !a.clashes[key] {
				a.clashes[key] = true
				a.log.Warn("annotation only partly applied", "object", o.Ref(), "note", n)
			}
		}
	}
	for _, c := range mesh.Conflicts {
		if s := c.String(); !a.clashes[s] {
			a.clashes[s] = true
			a.log.Warn("annotation conflict", "conflict", s)
		}
	}
	a.log.Debug("annotation index rebuilt", "objects", len(mesh.Objects), "invalid", len(invalid), "conflicts", len(mesh.Conflicts))
}

func fromMeta(kind, apiVersion string, m *metav1.ObjectMeta) *Object {
	return &Object{Kind: kind, APIVersion: apiVersion, Namespace: m.Namespace, Name: m.Name, UID: string(m.UID),
		ResourceVersion: m.ResourceVersion, Annotations: m.Annotations}
}

// fromIngress reads an Ingress's hosts and paths: each rule's host with its HTTP paths (Exact,
// or Prefix for Prefix and ImplementationSpecific). Rules without a host, and a default
// backend, serve whatever hosts the ingress controller gives them — betterauthz cannot tell
// which, so they are left out (with a note when the Ingress has a policy): indexed as "every
// host", one Ingress could set the policy of the whole mesh.
func fromIngress(ing *networkingv1.Ingress) *Object {
	o := fromMeta("Ingress", "networking.k8s.io/v1", &ing.ObjectMeta)
	hostless := ing.Spec.DefaultBackend != nil
	for _, rule := range ing.Spec.Rules {
		if rule.Host == "" {
			hostless = true
			continue
		}
		route := authz.MeshRoute{Hosts: []string{rule.Host}}
		if rule.HTTP == nil {
			route.Paths = []authz.RoutedPath{{Value: "/"}}
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

func ingressPath(p networkingv1.HTTPIngressPath) authz.RoutedPath {
	v := p.Path
	if v == "" {
		v = "/"
	}
	exact := p.PathType != nil && *p.PathType == networkingv1.PathTypeExact
	return authz.RoutedPath{Value: v, Exact: exact}
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
	route := authz.MeshRoute{Hosts: hosts}
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	for i, r := range rules {
		rule, _ := r.(map[string]any)
		matches, _, _ := unstructured.NestedSlice(rule, "matches")
		if len(matches) == 0 {
			route.Paths = append(route.Paths, authz.RoutedPath{Value: "/"})
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
				route.Paths = append(route.Paths, authz.RoutedPath{Value: value, Exact: true})
			case "PathPrefix":
				route.Paths = append(route.Paths, authz.RoutedPath{Value: value})
			default:
				// Which paths it serves is unknown: it claims the whole host without a policy,
				// so that the config (not a broader annotated object) decides there.
				o.UnknownPaths = hosts
				note(fmt.Sprintf("spec.rules[%d].matches[%d]: %s path %q is not matched by betterauthz; requests it routes fall back to the config", i, j, typ, value))
			}
		}
	}
	if len(route.Paths) > 0 {
		o.Routes = []authz.MeshRoute{route}
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

func namespaceList(ns []string) string {
	if len(ns) == 1 && ns[0] == metav1.NamespaceAll {
		return "(all)"
	}
	return strings.Join(ns, ",")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
