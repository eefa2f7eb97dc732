package kube

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

// ConfigKey is the ConfigMap key that holds the config.
const ConfigKey = "config.yaml"

var configMapGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// ParseConfigMapRef reads "namespace/name".
func ParseConfigMapRef(s string) (namespace, name string, err error) {
	ns, n, ok := strings.Cut(s, "/")
	if !ok || ns == "" || n == "" || strings.Contains(n, "/") {
		return "", "", fmt.Errorf("%q is not NAMESPACE/NAME", s)
	}
	return ns, n, nil
}

// ConfigMapHandler receives the watched ConfigMap's config.
type ConfigMapHandler interface {
	// ConfigMapChanged is called with config.yaml whenever the ConfigMap is created or changed.
	ConfigMapChanged(data []byte)
	// ConfigMapInvalid is called when the ConfigMap exists but has no config.yaml key.
	ConfigMapInvalid(err error)
	// ConfigMapDeleted is called when the ConfigMap is deleted.
	ConfigMapDeleted()
	// ConfigMapSynced is called once the first list has completed (after ConfigMapChanged for
	// a ConfigMap that exists).
	ConfigMapSynced()
}

// ConfigMap watches one ConfigMap by name (an informer restricted to it by a field selector, so
// RBAC can grant exactly that object).
type ConfigMap struct {
	clients         *Clients
	namespace, name string
	log             *slog.Logger
	handler         ConfigMapHandler
	synced          atomic.Bool
	seen            atomic.Pointer[ObjectRef] // the version last handed over
}

// NewConfigMap watches namespace/name.
func NewConfigMap(c *Clients, namespace, name string, log *slog.Logger, h ConfigMapHandler) *ConfigMap {
	return &ConfigMap{clients: c, namespace: namespace, name: name, log: log, handler: h}
}

// Synced reports whether the first list has completed (and its result was handed over).
func (c *ConfigMap) Synced() bool { return c.synced.Load() }

// Run watches until ctx ends.
func (c *ConfigMap) Run(ctx context.Context) error {
	inf := dynamicInformer(c.clients.Dynamic, configMapGVR, c.namespace, func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", c.name).String()
	})
	changed := func(obj any) {
		cm, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return
		}
		c.seen.Store(&ObjectRef{Kind: "ConfigMap", APIVersion: "v1", Namespace: cm.GetNamespace(), Name: cm.GetName(), UID: string(cm.GetUID()), ResourceVersion: cm.GetResourceVersion()})
		data, ok := configData(cm)
		if !ok {
			c.handler.ConfigMapInvalid(fmt.Errorf("ConfigMap %s/%s has no %q key", c.namespace, c.name, ConfigKey))
			return
		}
		c.handler.ConfigMapChanged(data)
	}
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    changed,
		UpdateFunc: func(_, obj any) { changed(obj) },
		DeleteFunc: func(any) { c.handler.ConfigMapDeleted() },
	})
	if err != nil {
		return err
	}
	var running sync.WaitGroup
	running.Go(func() { inf.RunWithContext(ctx) })
	defer running.Wait()
	c.log.Info("watching ConfigMap", "namespace", c.namespace, "name", c.name, "key", ConfigKey)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("ConfigMap watch never synced")
	}
	if len(inf.GetStore().List()) == 0 {
		c.log.Error("ConfigMap not found; waiting for it to be created", "namespace", c.namespace, "name", c.name)
	}
	c.synced.Store(true)
	c.handler.ConfigMapSynced()
	<-ctx.Done()
	return nil
}

// configData is the ConfigMap's config.yaml: from data, else from binaryData (base64 in JSON).
func configData(cm *unstructured.Unstructured) ([]byte, bool) {
	if s, ok, _ := unstructured.NestedString(cm.Object, "data", ConfigKey); ok {
		return []byte(s), true
	}
	if s, ok, _ := unstructured.NestedString(cm.Object, "binaryData", ConfigKey); ok {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// ReasonInvalidConfig is the reason of the Warning Event recorded on the watched ConfigMap when
// its config is refused.
const ReasonInvalidConfig = "InvalidConfig"

// RecordRefused records a Warning Event on the ConfigMap version last handed over (the one
// refused) that its config was refused, with the problems. Where RBAC forbids events nothing
// happens beyond a debug log: the log line and the metric are the record.
func (c *ConfigMap) RecordRefused(rec EventRecorder, problems string) {
	ref := c.seen.Load()
	if rec == nil || ref == nil {
		return
	}
	rec.Warn(*ref, ReasonInvalidConfig,
		"betterauthz refused "+ConfigKey+" (the last good config, if any, stays in force): "+truncate(problems, 900))
}
