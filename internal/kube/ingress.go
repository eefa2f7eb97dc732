package kube

import (
	"context"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Ingresses are decoded into the few fields of networking.k8s.io/v1 Ingress that fromIngress
// reads, not k8s.io/api's type: that package (with core/v1, which it imports) is 4 MiB of
// binary, and as unstructured maps (the dynamic client) an Ingress takes several times the
// memory — in every sidecar, for every Ingress of the cluster. JSON decoding drops the rest
// (backends, TLS, status).

var ingressGV = schema.GroupVersion{Group: "networking.k8s.io", Version: "v1"}

type ingress struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ingressSpec `json:"spec,omitempty"`
}

type ingressSpec struct {
	IngressClassName string        `json:"ingressClassName,omitempty"`
	DefaultBackend   *struct{}     `json:"defaultBackend,omitempty"` // present or not
	Rules            []ingressRule `json:"rules,omitempty"`
}

type ingressRule struct {
	Host string       `json:"host,omitempty"`
	HTTP *ingressHTTP `json:"http,omitempty"`
}

type ingressHTTP struct {
	Paths []ingressPathRule `json:"paths"`
}

type ingressPathRule struct {
	Path     string `json:"path,omitempty"`
	PathType string `json:"pathType,omitempty"`
}

type ingressList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ingress `json:"items"`
}

func (in *ingress) DeepCopyObject() runtime.Object {
	out := &ingress{TypeMeta: in.TypeMeta, Spec: ingressSpec{IngressClassName: in.Spec.IngressClassName, DefaultBackend: in.Spec.DefaultBackend}}
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	if in.Spec.Rules != nil {
		out.Spec.Rules = make([]ingressRule, len(in.Spec.Rules))
		for i, r := range in.Spec.Rules {
			out.Spec.Rules[i] = ingressRule{Host: r.Host}
			if r.HTTP != nil {
				out.Spec.Rules[i].HTTP = &ingressHTTP{Paths: slices.Clone(r.HTTP.Paths)}
			}
		}
	}
	return out
}

func (in *ingressList) DeepCopyObject() runtime.Object {
	out := &ingressList{TypeMeta: in.TypeMeta}
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]ingress, len(in.Items))
		for i := range in.Items {
			out.Items[i] = *in.Items[i].DeepCopyObject().(*ingress)
		}
	}
	return out
}

// ingressClient is a REST client of networking.k8s.io/v1 that decodes Ingresses (JSON) into
// ingress.
func ingressClient(cfg *rest.Config) (*rest.RESTClient, error) {
	s := runtime.NewScheme()
	s.AddKnownTypeWithName(ingressGV.WithKind("Ingress"), &ingress{})
	s.AddKnownTypeWithName(ingressGV.WithKind("IngressList"), &ingressList{})
	metav1.AddToGroupVersion(s, ingressGV)
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &ingressGV
	c.APIPath = "/apis"
	c.ContentType = runtime.ContentTypeJSON
	c.AcceptContentTypes = runtime.ContentTypeJSON
	c.NegotiatedSerializer = serializer.NewCodecFactory(s).WithoutConversion()
	return rest.RESTClientFor(c)
}

// ingressInformer lists and watches the Ingresses of namespace, as client-go's typed Ingress
// informer does (the list's timeoutSeconds also the request's timeout).
func ingressInformer(client rest.Interface, namespace string) cache.SharedIndexInformer {
	request := func(opts *metav1.ListOptions) *rest.Request {
		var timeout time.Duration
		if opts.TimeoutSeconds != nil {
			timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
		}
		return client.Get().NamespaceIfScoped(namespace, namespace != "").Resource("ingresses").
			VersionedParams(opts, metav1.ParameterCodec).Timeout(timeout)
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			list := &ingressList{}
			return list, request(&opts).Do(ctx).Into(list)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.Watch = true
			return request(&opts).Watch(ctx)
		},
	}
	inf := cache.NewSharedIndexInformerWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, client), &ingress{},
		cache.SharedIndexInformerOptions{Indexers: namespaceIndex})
	_ = inf.SetTransform(dropManagedFields) // fails only once the informer runs
	return inf
}
