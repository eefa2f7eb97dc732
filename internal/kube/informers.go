package kube

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// The informers client-go's informer factories would build, made here because those factories
// (typed, and metadatainformer and dynamicinformer through client-go/informers) link the
// Clientset and every API group.

// namespaceIndex is the index every factory-made informer has.
var namespaceIndex = cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}

// typedInformer lists and watches resource (of the client's group version) in namespace, as a
// generated typed client does: protobuf preferred, the list's timeoutSeconds also the request's
// timeout. tweak (may be nil) edits the list options.
func typedInformer(client rest.Interface, resource, namespace string, object runtime.Object, newList func() runtime.Object, tweak func(*metav1.ListOptions)) cache.SharedIndexInformer {
	request := func(opts *metav1.ListOptions) *rest.Request {
		if tweak != nil {
			tweak(opts)
		}
		var timeout time.Duration
		if opts.TimeoutSeconds != nil {
			timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
		}
		return client.Get().UseProtobufAsDefault().NamespaceIfScoped(namespace, namespace != "").Resource(resource).
			VersionedParams(opts, parameterCodec).Timeout(timeout)
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			list := newList()
			return list, request(&opts).Do(ctx).Into(list)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.Watch = true
			return request(&opts).Watch(ctx)
		},
	}
	return cache.NewSharedIndexInformerWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, client), object,
		cache.SharedIndexInformerOptions{Indexers: namespaceIndex})
}

// metadataInformer lists and watches only the metadata of gvr's objects in namespace.
func metadataInformer(client metadata.Interface, gvr schema.GroupVersionResource, namespace string) cache.SharedIndexInformer {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return client.Resource(gvr).Namespace(namespace).List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return client.Resource(gvr).Namespace(namespace).Watch(ctx, opts)
		},
	}
	return cache.NewSharedIndexInformerWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, client), &metav1.PartialObjectMetadata{},
		cache.SharedIndexInformerOptions{Indexers: namespaceIndex})
}

// dynamicInformer lists and watches gvr's objects in namespace as unstructured objects.
func dynamicInformer(client dynamic.Interface, gvr schema.GroupVersionResource, namespace string) cache.SharedIndexInformer {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return client.Resource(gvr).Namespace(namespace).List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return client.Resource(gvr).Namespace(namespace).Watch(ctx, opts)
		},
	}
	return cache.NewSharedIndexInformerWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, client), &unstructured.Unstructured{},
		cache.SharedIndexInformerOptions{Indexers: namespaceIndex, ObjectDescription: gvr.String()})
}
