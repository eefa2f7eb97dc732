package kube

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// discoveryTimeout bounds a HasResource request (client-go's discovery client default).
const discoveryTimeout = 32 * time.Second

// Clients talk to the Kubernetes API: REST clients of the two typed groups read (on this
// package's scheme, not client-go's every-group one), and the metadata and dynamic clients for
// Services and HTTPRoutes.
type Clients struct {
	Config     *rest.Config
	Core       rest.Interface // core/v1: ConfigMaps, Events
	Networking rest.Interface // networking.k8s.io/v1: Ingresses
	Metadata   metadata.Interface
	Dynamic    dynamic.Interface
}

// Connect builds clients from a kubeconfig file, or from the pod's service account when
// kubeconfig is empty.
func Connect(kubeconfig string) (*Clients, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
		}
	} else if cfg, err = rest.InClusterConfig(); err != nil {
		return nil, fmt.Errorf("not running in a Kubernetes pod and no --kubeconfig given: %w", err)
	}
	return NewClients(cfg)
}

// NewClients builds clients from a rest config.
func NewClients(cfg *rest.Config) (*Clients, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.UserAgent == "" {
		cfg.UserAgent = "betterauthz"
	}
	c := &Clients{Config: cfg}
	// One transport for the typed groups, as a Clientset shares one between its groups.
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	if c.Core, err = typedClient(cfg, httpClient, corev1.SchemeGroupVersion, "/api"); err != nil {
		return nil, err
	}
	if c.Networking, err = typedClient(cfg, httpClient, networkingv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	if c.Metadata, err = metadata.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	return c, nil
}

// typedClient is the REST client a generated typed client of that group version uses.
func typedClient(cfg *rest.Config, h *http.Client, gv schema.GroupVersion, apiPath string) (*rest.RESTClient, error) {
	c := *cfg
	c.GroupVersion = &gv
	c.APIPath = apiPath
	c.NegotiatedSerializer = rest.CodecFactoryForGeneratedClient(scheme, codecs).WithoutConversion()
	return rest.RESTClientForConfigAndClient(&c, h)
}

// HasResource reports whether the API server serves a resource (e.g. whether a CRD is
// installed).
func (c *Clients) HasResource(gvr schema.GroupVersionResource) bool {
	path := "/apis/" + gvr.GroupVersion().String()
	if gvr.Group == "" {
		path = "/api/" + gvr.Version
	}
	list := &metav1.APIResourceList{}
	if err := c.Core.Get().AbsPath(path).Timeout(discoveryTimeout).Do(context.Background()).Into(list); err != nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Name == gvr.Resource {
			return true
		}
	}
	return false
}
