package kube

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
)

// NewEventRecorder records Kubernetes Events as "betterauthz". Where RBAC does not allow
// creating events, recording fails quietly (logged at debug): events are a courtesy, the log
// line and metric are the record. Call the returned func on shutdown.
func NewEventRecorder(c *Clients, log *slog.Logger) (record.EventRecorder, func()) {
	b := record.NewBroadcaster()
	b.StartStructuredLogging(4)
	b.StartRecordingToSink(eventSink{c.Core})
	return b.NewRecorder(scheme, corev1.EventSource{Component: "betterauthz"}), b.Shutdown
}

// eventSink writes Events in the event's own namespace, as client-go's
// typed/core/v1.EventSinkImpl does.
type eventSink struct{ client rest.Interface }

func (s eventSink) Create(e *corev1.Event) (*corev1.Event, error) {
	out := &corev1.Event{}
	err := s.client.Post().NamespaceIfScoped(e.Namespace, e.Namespace != "").Resource("events").
		Body(e).Do(context.Background()).Into(out)
	return out, err
}

func (s eventSink) Update(e *corev1.Event) (*corev1.Event, error) {
	out := &corev1.Event{}
	err := s.client.Put().NamespaceIfScoped(e.Namespace, e.Namespace != "").Resource("events").Name(e.Name).
		Body(e).Do(context.Background()).Into(out)
	return out, err
}

func (s eventSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	out := &corev1.Event{}
	err := s.client.Patch(types.StrategicMergePatchType).NamespaceIfScoped(e.Namespace, e.Namespace != "").Resource("events").Name(e.Name).
		Body(data).Do(context.Background()).Into(out)
	return out, err
}
