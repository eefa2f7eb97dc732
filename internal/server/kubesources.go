package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/kube"
	"github.com/betterauthz/betterauthz/internal/metrics"
)

// kubeSources are the process's Kubernetes sources: the ConfigMap watcher (nil without
// --configmap), the annotation watcher and the Event recorder both report through. A nil
// *kubeSources is no Kubernetes API: its methods say so.
type kubeSources struct {
	configMap   *kube.ConfigMap
	annotations *kube.Annotations
	recorder    kube.EventRecorder
	stopEvents  func()
}

// newKubeSources connects to the Kubernetes API when the process needs it — for a ConfigMap,
// with an explicit kubeconfig, or (for annotation policies) when running in a pod — and sets
// up the ConfigMap and annotation watchers, which send what they find to in.
func newKubeSources(o Options, log *slog.Logger, m *metrics.Metrics, in *inbox) (*kubeSources, error) {
	if o.ConfigMap == "" && o.Kubeconfig == "" && o.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		log.Info("no Kubernetes API (not in a pod, no --kubeconfig): annotation policies off")
		return nil, nil
	}
	var namespace, name string
	if o.ConfigMap != "" {
		var err error
		if namespace, name, err = kube.ParseConfigMapRef(o.ConfigMap); err != nil {
			return nil, fmt.Errorf("--configmap: %w", err)
		}
	}
	clients, err := kube.Connect(o.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	k := &kubeSources{}
	if o.ConfigMap != "" {
		k.configMap = kube.NewConfigMap(clients, namespace, name, log, configMapSource{in})
	}
	k.recorder, k.stopEvents = kube.NewEventRecorder(clients, log)
	k.annotations = kube.NewAnnotations(clients, log, m, k.recorder,
		func(idx *policy.ObjectIndex) { in.send(objectsIndexed{idx}) }, o.CRDPoll, o.WorkloadNamespace)
	return k, nil
}

// readyConditions lists what the server waits for, in the order /readyz reports it.
func readyConditions(configMap string, f *inForce, k *kubeSources) []condition {
	conditions := []condition{{f.hasConfig, "no config yet (waiting for ConfigMap " + configMap + ")"}}
	if k != nil && k.configMap != nil {
		conditions = append(conditions, condition{k.configMap.Synced, "ConfigMap " + configMap + " not synced yet"})
	}
	conditions = append(conditions,
		condition{f.keysLoaded, "signing keys not loaded yet (is Better Auth reachable?)"},
		condition{f.keysFresh, "signing keys stale: no successful JWKS refresh within maxKeyAge (is Better Auth reachable?)"})
	if k != nil {
		conditions = append(conditions, condition{k.annotations.Synced, "Kubernetes objects not listed yet (annotation policies)"})
	}
	return conditions
}

// annotationSettings is where the reloader hands the annotations settings of each config it
// puts in force: the annotation watcher (nil without one).
func (k *kubeSources) annotationSettings() func(config.Annotations) {
	if k == nil {
		return nil
	}
	return k.annotations.Configure
}

// configMapRefused records a refused ConfigMap config as a Warning Event on the ConfigMap
// (nil without one).
func (k *kubeSources) configMapRefused() func(error) {
	if k == nil || k.configMap == nil {
		return nil
	}
	return func(err error) { k.configMap.RecordRefused(k.recorder, strings.Join(problemList(err), "; ")) }
}

// invalid lists the objects whose annotations are ignored, for /debug/routes.
func (k *kubeSources) invalid() []string {
	if k == nil {
		return nil
	}
	return k.annotations.Invalid()
}

// run starts the watchers in g, for the lifetime of bg.
func (k *kubeSources) run(g *errgroup.Group, bg context.Context) {
	if k.configMap != nil {
		g.Go(func() error { return k.configMap.Run(bg) })
	}
	g.Go(func() error { return k.annotations.Run(bg) })
}

// stop stops the Event recorder.
func (k *kubeSources) stop() {
	if k != nil {
		k.stopEvents()
	}
}
