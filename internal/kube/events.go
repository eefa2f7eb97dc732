package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/utils/lru"
)

// Events are written as client-go's tools/record writes them, which is not linked: it brings
// strategic-merge-patch and OpenAPI machinery (2.3 MiB of binary) to build a three-field patch.
// What it does, and this does alike:
//   - Warn never blocks: events wait in a queue of eventQueue, and are dropped (and logged)
//     when it is full;
//   - an event like one already written (same object, type, reason and message) raises that
//     Event's count and lastTimestamp with a patch instead of creating another;
//   - from the aggregateMaxMessages-th different message of one reason on one object within
//     aggregateWindow, they are combined into one Event "(combined from similar events): …";
//   - at most spamBurst Events per object, then one per spamInterval;
//   - a write that fails for want of a server is retried (maxTries, retryDelay apart, the
//     first delay random); one the server refuses (RBAC, a terminating namespace) is dropped.
const (
	eventComponent       = "betterauthz"
	eventQueue           = 1000
	eventCacheEntries    = 4096
	aggregateMaxMessages = 10
	aggregateWindow      = 10 * time.Minute
	spamBurst            = 25
	spamInterval         = 5 * time.Minute
	maxTries             = 12
	retryDelay           = 10 * time.Second
)

var eventsGVR = schema.GroupVersionResource{Version: "v1", Resource: "events"}

// ObjectRef is the object an Event is about.
type ObjectRef struct {
	Kind, APIVersion, Namespace, Name, UID, ResourceVersion string
}

// EventRecorder records Warning Events about objects.
type EventRecorder interface {
	Warn(about ObjectRef, reason, message string)
}

// NewEventRecorder records Kubernetes Events (core/v1, source component "betterauthz") in the
// background. Where RBAC does not allow creating events, recording fails quietly (logged at
// debug): events are a courtesy, the log line and metric are the record. Call the returned
// func on shutdown.
func NewEventRecorder(c *Clients, log *slog.Logger) (EventRecorder, func()) {
	e := newEvents(c.Dynamic.Resource(eventsGVR), log)
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	running.Go(func() { e.run(ctx) })
	return e, func() { cancel(); running.Wait() }
}

type events struct {
	client     dynamic.NamespaceableResourceInterface
	log        *slog.Logger
	queue      chan pendingEvent
	now        func() time.Time
	retryDelay time.Duration

	// Owned by run's goroutine (lru.Cache locks anyway).
	written *lru.Cache // eventKey -> writtenEvent
	similar *lru.Cache // similarKey -> similarEvents
	spam    *lru.Cache // object key -> *rate.Limiter
}

type pendingEvent struct {
	about           ObjectRef
	reason, message string
	at              time.Time
}

// event is one Event to create, or (count > 1) to patch.
type event struct {
	about           ObjectRef
	namespace, name string
	resourceVersion string
	reason, message string
	first, last     time.Time
	count           int
	key             string // what identifies it in written
}

type writtenEvent struct {
	count           int
	first           time.Time
	name            string
	resourceVersion string
}

type similarEvents struct {
	messages map[string]struct{}
	last     time.Time
}

func newEvents(client dynamic.NamespaceableResourceInterface, log *slog.Logger) *events {
	return &events{
		client: client, log: log, queue: make(chan pendingEvent, eventQueue), now: time.Now, retryDelay: retryDelay,
		written: lru.New(eventCacheEntries), similar: lru.New(eventCacheEntries), spam: lru.New(eventCacheEntries),
	}
}

// Warn queues a Warning Event about an object.
func (e *events) Warn(about ObjectRef, reason, message string) {
	select {
	case e.queue <- pendingEvent{about: about, reason: reason, message: message, at: e.now()}:
	default:
		e.log.Warn("Kubernetes Event dropped: too many queued", "object", about.Kind+" "+about.Namespace+"/"+about.Name, "reason", reason)
	}
}

func (e *events) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-e.queue:
			if ev := e.correlate(p); ev != nil {
				e.write(ctx, ev)
			}
		}
	}
}

// correlate turns a Warn into the Event to write (nil: none, the object has had too many).
func (e *events) correlate(p pendingEvent) *event {
	ev := &event{about: p.about, namespace: p.about.Namespace, name: eventName(p.about.Name, p.at),
		reason: p.reason, message: p.message, first: p.at, last: p.at, count: 1}
	if ev.namespace == "" {
		ev.namespace = metav1.NamespaceDefault
	}
	ev.key = ev.eventKey()

	simKey := ev.similarKey()
	var sim similarEvents
	if v, ok := e.similar.Get(simKey); ok {
		sim = v.(similarEvents)
	}
	if p.at.Sub(sim.last) > aggregateWindow {
		sim = similarEvents{messages: map[string]struct{}{}}
	}
	sim.messages[p.message] = struct{}{}
	sim.last = p.at
	e.similar.Add(simKey, sim)
	if len(sim.messages) >= aggregateMaxMessages {
		for m := range sim.messages { // keep the set one short of the limit: every new message aggregates
			delete(sim.messages, m)
			break
		}
		ev.message = "(combined from similar events): " + p.message
		ev.key = simKey
	}

	if v, ok := e.written.Get(ev.key); ok {
		if last := v.(writtenEvent); last.count > 0 {
			ev.name, ev.resourceVersion, ev.first, ev.count = last.name, last.resourceVersion, last.first, last.count+1
		}
	}
	e.written.Add(ev.key, writtenEvent{count: ev.count, first: ev.first, name: ev.name, resourceVersion: ev.resourceVersion})

	spamKey := ev.objectKey()
	var limiter *rate.Limiter
	if v, ok := e.spam.Get(spamKey); ok {
		limiter = v.(*rate.Limiter)
	} else {
		limiter = rate.NewLimiter(rate.Every(spamInterval), spamBurst)
	}
	e.spam.Add(spamKey, limiter)
	if !limiter.AllowN(p.at, 1) {
		return nil
	}
	return ev
}

// write sends the Event, retrying while the server cannot be reached.
func (e *events) write(ctx context.Context, ev *event) {
	for tries := 1; ; tries++ {
		err := e.send(ctx, ev)
		if err == nil {
			return
		}
		var status apierrors.APIStatus
		var construction *rest.RequestConstructionError
		switch {
		case errors.As(err, &construction):
			e.log.Warn("Kubernetes Event not written", "object", ev.about.Kind+" "+ev.about.Namespace+"/"+ev.about.Name, "reason", ev.reason, "error", err.Error())
			return
		case errors.As(err, &status):
			// Forbidden where RBAC leaves events out, AlreadyExists, a terminating namespace.
			e.log.Debug("Kubernetes Event refused", "object", ev.about.Kind+" "+ev.about.Namespace+"/"+ev.about.Name, "reason", ev.reason, "error", err.Error())
			return
		}
		if tries == maxTries {
			e.log.Warn("Kubernetes Event not written (API server unreachable)", "object", ev.about.Kind+" "+ev.about.Namespace+"/"+ev.about.Name, "reason", ev.reason, "tries", tries, "error", err.Error())
			return
		}
		e.log.Debug("Kubernetes Event not written yet; retrying", "object", ev.about.Kind+" "+ev.about.Namespace+"/"+ev.about.Name, "reason", ev.reason, "error", err.Error())
		delay := e.retryDelay
		if tries == 1 { // so that clients do not retry in step after an API server outage
			delay = time.Duration(rand.Float64() * float64(delay))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// send patches the Event's count when it was written before (creating it when it has since
// gone), else creates it.
func (e *events) send(ctx context.Context, ev *event) error {
	client := e.client.Namespace(ev.namespace)
	var got *unstructured.Unstructured
	var err error
	if ev.count > 1 {
		patch, _ := json.Marshal(map[string]any{"count": ev.count, "lastTimestamp": timestamp(ev.last), "message": ev.message})
		got, err = client.Patch(ctx, ev.name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	}
	if ev.count <= 1 || apierrors.IsNotFound(err) {
		ev.resourceVersion = ""
		got, err = client.Create(ctx, ev.object(), metav1.CreateOptions{})
	}
	if err != nil {
		return err
	}
	count, _, _ := unstructured.NestedInt64(got.Object, "count")
	first := ev.first
	if s, _, _ := unstructured.NestedString(got.Object, "firstTimestamp"); s != "" {
		if t, perr := time.Parse(time.RFC3339, s); perr == nil {
			first = t
		}
	}
	e.written.Add(ev.eventKey(), writtenEvent{count: int(count), first: first, name: got.GetName(), resourceVersion: got.GetResourceVersion()})
	return nil
}

// object is the core/v1 Event.
func (ev *event) object() *unstructured.Unstructured {
	involved := map[string]any{}
	for k, v := range map[string]string{"kind": ev.about.Kind, "apiVersion": ev.about.APIVersion, "namespace": ev.about.Namespace,
		"name": ev.about.Name, "uid": ev.about.UID, "resourceVersion": ev.about.ResourceVersion} {
		if v != "" {
			involved[k] = v
		}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion":         "v1",
		"kind":               "Event",
		"metadata":           map[string]any{"name": ev.name, "namespace": ev.namespace},
		"involvedObject":     involved,
		"type":               "Warning",
		"reason":             ev.reason,
		"message":            ev.message,
		"source":             map[string]any{"component": eventComponent},
		"reportingComponent": eventComponent,
		"firstTimestamp":     timestamp(ev.first),
		"lastTimestamp":      timestamp(ev.last),
		"count":              int64(ev.count),
	}}
}

// objectKey identifies the object (and the kind of event): one spam budget each.
func (ev *event) objectKey() string {
	a := ev.about
	return strings.Join([]string{eventComponent, "", a.Kind, a.Namespace, a.Name, a.UID, a.APIVersion, "Warning"}, "")
}

// similarKey identifies events that differ only by message.
func (ev *event) similarKey() string {
	a := ev.about
	return strings.Join([]string{eventComponent, "", a.Kind, a.Namespace, a.Name, a.UID, a.APIVersion, "Warning", ev.reason, eventComponent, ""}, "")
}

// eventKey identifies events that are the same.
func (ev *event) eventKey() string {
	a := ev.about
	return strings.Join([]string{eventComponent, "", a.Kind, a.Namespace, a.Name, "", a.UID, a.APIVersion, "Warning", ev.reason, ev.message}, "")
}

// eventName is "<object name>.<nanoseconds in hex>", or a UUID where that is not a valid name.
func eventName(object string, at time.Time) string {
	name := fmt.Sprintf("%s.%x", object, at.UnixNano())
	if len(validation.IsDNS1123Subdomain(name)) > 0 {
		name = uuid.New().String()
	}
	return name
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
