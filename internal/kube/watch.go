package kube

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
)

// HTTPRouteGVR is the Gateway API resource watched when its CRD is installed.
var HTTPRouteGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

var (
	serviceGVR      = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	ingressClassGVR = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingressclasses"}
)

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

// Annotations watches Services, Ingresses and HTTPRoutes (all namespaces or the configured ones;
// with a workload namespace, that one alone) and IngressClasses, and publishes the per-object
// policies their betterauthz.io/ annotations set. A malformed annotation leaves that one object
// out — its requests fall back to the config — and is logged with the object and key, counted,
// and recorded as a Kubernetes Event on the object (where RBAC allows).
type Annotations struct {
	clients  *Clients
	log      *slog.Logger
	metrics  AnnotationMetrics
	recorder EventRecorder // nil: no events
	publish  func(*policy.ObjectIndex)
	crdPoll  time.Duration
	// workloadNS: the one namespace whose objects decide (--workload-namespace); "" for all.
	workloadNS string

	configure chan config.Annotations
	dirty     chan struct{}
	synced    atomic.Pointer[func() bool]
	built     atomic.Bool // an index was published under the current watch
	invalid   atomic.Pointer[[]string]

	// Owned by Run's goroutine.
	sources  *sources          // nil when off
	builder  Builder           // keeps what it parsed from one rebuild to the next
	reported map[string]string // object UID -> the error last reported for it
	noted    map[string]bool   // notes and conflicts of the last rebuild, logged once
}

// NewAnnotations makes a watcher; Run starts it. publish receives every new index (nil when
// annotations are turned off). crdPoll is how often an absent Gateway API CRD is looked for
// (0: DefaultCRDPoll). workloadNamespace, when set, is the namespace of the one workload this
// betterauthz guards (a sidecar): only that namespace's objects are watched and decide.
func NewAnnotations(c *Clients, log *slog.Logger, m AnnotationMetrics, recorder EventRecorder, publish func(*policy.ObjectIndex), crdPoll time.Duration, workloadNamespace string) *Annotations {
	if crdPoll <= 0 {
		crdPoll = DefaultCRDPoll
	}
	a := &Annotations{
		clients: c, log: log, metrics: m, recorder: recorder, publish: publish, crdPoll: crdPoll, workloadNS: workloadNamespace,
		configure: make(chan config.Annotations, 1),
		dirty:     make(chan struct{}, 1),
		reported:  map[string]string{},
		noted:     map[string]bool{},
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

// Synced reports whether the watched objects have been listed and indexed once under the
// current settings (true when annotations are off): until then, no object's policy applies.
func (a *Annotations) Synced() bool { return (*a.synced.Load())() && a.built.Load() }

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
	pending := false
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
				a.built.Store(false)
				if !s.Enabled {
					always := func() bool { return true }
					a.synced.Store(&always)
					a.built.Store(true)
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
			// At most rebuildSettle after the first change: a steady stream of changes (any
			// team's, say) batches into a rebuild every rebuildSettle, never postpones one.
			if !pending {
				pending = true
				settle.Reset(rebuildSettle)
			}
		case <-settle.C:
			pending = false
			if a.sources == nil {
				continue
			}
			if !a.sources.synced() {
				pending = true
				settle.Reset(rebuildSettle) // try again once the caches have filled
				continue
			}
			a.rebuild(settings)
			a.built.Store(true)
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
	classes   cache.SharedIndexInformer // IngressClasses (cluster-wide); nil when no namespace is watched
	workload  string                    // Cluster.WorkloadNamespace
	mu        sync.Mutex
	routes    []cache.SharedIndexInformer // empty until the HTTPRoute CRD is found
	gateways  cache.SharedIndexInformer   // cluster-wide; nil until the Gateway CRD is found
}

func (s *sources) synced() bool {
	if s.services == nil && s.ingresses == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, set := range [][]cache.SharedIndexInformer{s.services, s.ingresses, s.routes, {s.classes}} {
		for _, inf := range set {
			if !inf.HasSynced() {
				return false
			}
		}
	}
	return true
}

func (a *Annotations) start(ctx context.Context, namespaces []string) *sources {
	switch {
	case a.workloadNS != "" && (len(namespaces) == 0 || slices.Contains(namespaces, a.workloadNS)):
		namespaces = []string{a.workloadNS}
	case a.workloadNS != "":
		a.log.Warn("the workload namespace is not among annotations.namespaces: no object decides", "workloadNamespace", a.workloadNS, "namespaces", strings.Join(namespaces, ","))
		return &sources{}
	case len(namespaces) == 0:
		namespaces = []string{metav1.NamespaceAll}
	}
	a.log.Info("watching annotations", "namespaces", namespaceList(namespaces))
	src := &sources{workload: a.workloadNS}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { a.markDirty() },
		UpdateFunc: func(any, any) { a.markDirty() },
		DeleteFunc: func(any) { a.markDirty() },
	}
	// Which Ingress classes exist, and which is the default: an Ingress of a class no
	// IngressClass names is served by no controller that the cluster knows of.
	src.classes = metadataInformer(a.clients.Metadata, ingressClassGVR, metav1.NamespaceAll)
	_, _ = src.classes.AddEventHandler(handler)
	go src.classes.RunWithContext(ctx)
	for _, ns := range namespaces {
		svc := metadataInformer(a.clients.Metadata, serviceGVR, ns)
		_, _ = svc.AddEventHandler(handler)
		src.services = append(src.services, svc)
		go svc.RunWithContext(ctx)

		ing := ingressInformer(a.clients.Ingresses, ns)
		_, _ = ing.AddEventHandler(handler)
		src.ingresses = append(src.ingresses, ing)
		go ing.RunWithContext(ctx)
	}
	go func() {
		// The Gateway API is optional: without its CRD, HTTPRoutes are simply not watched, and
		// they are picked up once the CRD appears (checked every crdPoll).
		t := time.NewTicker(a.crdPoll)
		defer t.Stop()
		logged := false
		for {
			if a.clients.HasResource(ctx, HTTPRouteGVR) {
				src.mu.Lock()
				for _, ns := range namespaces {
					inf := dynamicInformer(a.clients.Dynamic, HTTPRouteGVR, ns, nil)
					_, _ = inf.AddEventHandler(handler)
					src.routes = append(src.routes, inf)
					go inf.RunWithContext(ctx)
				}
				// The listeners of every Gateway: which hostnames each route really gets.
				if a.clients.HasResource(ctx, GatewayGVR) {
					src.gateways = dynamicInformer(a.clients.Dynamic, GatewayGVR, metav1.NamespaceAll, nil)
					_, _ = src.gateways.AddEventHandler(handler)
					go src.gateways.RunWithContext(ctx)
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

// cluster is what the informers say of the cluster beyond its objects. Gateways are known once
// their informer has synced (where RBAC does not allow reading them, HTTPRoutes serve the
// hostnames they name, and the client-go log says why).
func (s *sources) cluster() Cluster {
	c := Cluster{WorkloadNamespace: s.workload, IngressClasses: map[string]bool{}}
	if s.classes == nil {
		return c
	}
	for _, item := range s.classes.GetStore().List() {
		if m, ok := item.(*metav1.PartialObjectMetadata); ok {
			c.IngressClasses[m.Name] = m.Annotations[annDefaultClass] == "true"
		}
	}
	s.mu.Lock()
	gateways := s.gateways
	s.mu.Unlock()
	if gateways != nil && gateways.HasSynced() {
		c.Gateways = map[string][]Listener{}
		for _, item := range gateways.GetStore().List() {
			if u, ok := item.(*unstructured.Unstructured); ok {
				key, listeners := fromGateway(u)
				c.Gateways[key] = listeners
			}
		}
	}
	return c
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

func namespaceList(ns []string) string {
	if len(ns) == 1 && ns[0] == metav1.NamespaceAll {
		return "(all)"
	}
	return strings.Join(ns, ",")
}
