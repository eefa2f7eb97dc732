package kube

import (
	"context"
	"errors"
	"log/slog"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
)

// Events are written by client-go's tools/record: its EventBroadcaster never blocks a Warn
// (events wait in a queue of 1000, then are dropped and logged), writes an event like one
// already written as a patch of that Event's count, combines the tenth different message of a
// reason on an object within ten minutes into "(combined from similar events): …", allows an
// object 25 Events and then one per five minutes, and retries a write while the API server
// cannot be reached. They go to core/v1 Events through the dynamic client (eventSink): the
// typed Events client would link every built-in API group.

// eventComponent is the Events' source component and reporting controller.
const eventComponent = "betterauthz"

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
	// The broadcaster logs through the context's logger: log, as every line of the process.
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logr.FromSlogHandler(log.Handler())))
	rec, stop := newEventRecorder(ctx, &eventSink{ctx: ctx, client: c.Dynamic.Resource(eventsGVR), log: log}, record.CorrelatorOptions{})
	return rec, func() { stop(); cancel() }
}

// newEventRecorder records events into sink, correlated as opts say (their zero value:
// tools/record's defaults), until ctx ends or the returned func is called.
func newEventRecorder(ctx context.Context, sink record.EventSink, opts record.CorrelatorOptions) (*eventRecorder, func()) {
	b := record.NewBroadcaster(record.WithContext(ctx), record.WithCorrelatorOptions(opts))
	b.StartRecordingToSink(sink)
	return &eventRecorder{b.NewRecorder(runtime.NewScheme(), corev1.EventSource{Component: eventComponent})}, b.Shutdown
}

type eventRecorder struct{ record.EventRecorder }

// Warn queues a Warning Event about an object.
func (r *eventRecorder) Warn(about ObjectRef, reason, message string) {
	r.Event(&corev1.ObjectReference{Kind: about.Kind, APIVersion: about.APIVersion, Namespace: about.Namespace,
		Name: about.Name, UID: types.UID(about.UID), ResourceVersion: about.ResourceVersion}, corev1.EventTypeWarning, reason, message)
}

// eventSink writes the broadcaster's Events with the dynamic client. A write the server refuses
// (RBAC that leaves events out, a terminating namespace) is dropped, logged at debug, rather
// than logged as an error by the broadcaster: only a patch of an Event that has gone is
// reported back, so that the broadcaster creates it again.
type eventSink struct {
	ctx    context.Context
	client dynamic.NamespaceableResourceInterface
	log    *slog.Logger
}

func (s *eventSink) Create(e *corev1.Event) (*corev1.Event, error) {
	u, err := eventObject(e)
	if err != nil {
		return nil, err
	}
	got, err := s.client.Namespace(e.Namespace).Create(s.ctx, u, metav1.CreateOptions{})
	return s.written(e, got, err, false)
}

func (s *eventSink) Update(e *corev1.Event) (*corev1.Event, error) {
	u, err := eventObject(e)
	if err != nil {
		return nil, err
	}
	got, err := s.client.Namespace(e.Namespace).Update(s.ctx, u, metav1.UpdateOptions{})
	return s.written(e, got, err, false)
}

func (s *eventSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	got, err := s.client.Namespace(e.Namespace).Patch(s.ctx, e.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
	return s.written(e, got, err, true)
}

// written is the Event the server answered with, or what to tell the broadcaster instead.
func (s *eventSink) written(e *corev1.Event, got *unstructured.Unstructured, err error, patch bool) (*corev1.Event, error) {
	var status apierrors.APIStatus
	switch {
	case err == nil:
		out := new(corev1.Event)
		return out, runtime.DefaultUnstructuredConverter.FromUnstructured(got.Object, out)
	case patch && apierrors.IsNotFound(err):
		return nil, err
	case errors.As(err, &status):
		s.log.Debug("Kubernetes Event refused", "object", e.InvolvedObject.Kind+" "+e.InvolvedObject.Namespace+"/"+e.InvolvedObject.Name,
			"reason", e.Reason, "error", err.Error())
		return e, nil
	}
	return nil, err
}

func eventObject(e *corev1.Event) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(e)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion("v1")
	u.SetKind("Event")
	return u, nil
}
