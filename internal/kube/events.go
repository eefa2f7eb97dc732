package kube

import (
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// NewEventRecorder records Kubernetes Events as "betterauthz". Where RBAC does not allow
// creating events, recording fails quietly (logged at debug): events are a courtesy, the log
// line and metric are the record. Call the returned func on shutdown.
func NewEventRecorder(c *Clients, log *slog.Logger) (record.EventRecorder, func()) {
	b := record.NewBroadcaster()
	b.StartStructuredLogging(4)
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.Kube.CoreV1().Events("")})
	return b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "betterauthz"}), b.Shutdown
}
