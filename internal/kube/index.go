// Package kube connects betterauthz to Kubernetes with client-go: config from a watched
// ConfigMap, and per-route policy from the betterauthz.io/ annotations of Services, Ingresses
// and Gateway-API HTTPRoutes. No CRD of its own.
package kube

import (
	"strings"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
)

// Object is what the index needs of a Kubernetes object, whatever its kind.
type Object struct {
	Kind, APIVersion, Namespace, Name, UID, ResourceVersion string
	Annotations                                             map[string]string
	// Routes are the hosts and paths the object routes (Ingress, HTTPRoute). A Service's are
	// derived from its name: every path of its cluster DNS names.
	Routes []policy.ServedRoute
	// UnknownPaths are hosts on which the object routes paths betterauthz cannot match (regular
	// expressions): on them it stands for the config on every path.
	UnknownPaths []string
	// Notes are things about the object's routing that the index could not use (a regular
	// expression path match, say), reported with the object.
	Notes []string
}

// Ref names the object, e.g. "Service shop/orders".
func (o *Object) Ref() string { return o.Kind + " " + o.Namespace + "/" + o.Name }

// hasPolicy reports whether any betterauthz.io/ annotation is set.
func (o *Object) hasPolicy() bool {
	for k := range o.Annotations {
		if strings.HasPrefix(k, "betterauthz.io/") {
			return true
		}
	}
	return false
}

// Invalid is an object whose annotations could not be used: its routes fall back to the config.
type Invalid struct {
	Object *Object
	Err    error
}

// BuildIndex compiles the objects into the routes the checks consult. Every object that
// serves requests is indexed, annotated or not, so that when an unannotated object serves a
// request the config decides, not some broader annotated object. An object with a malformed
// annotation is indexed without a policy (its requests fall back to the config) and returned in
// invalid; it never affects other objects.
func BuildIndex(objects []*Object, a config.Annotations) (*policy.ObjectIndex, []Invalid) {
	var mesh []*policy.Object
	var invalid []Invalid
	for _, o := range objects {
		mo := &policy.Object{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Routes: o.Routes}
		if o.Kind == "Service" {
			mo.Routes = []policy.ServedRoute{{Hosts: ServiceHosts(o.Name, o.Namespace, a.ClusterDomain), Paths: []policy.RoutedPath{{Value: "/"}}}}
		}
		if o.hasPolicy() {
			op, err := policy.ParseObjectRules(o.Annotations, o.Ref())
			if err == nil && op != nil {
				// Not the issuer names: a rule naming an issuer the config lacks (or no longer
				// has) stays in force and refuses every token (403). Made invalid, the object
				// would fall back to the config, and a config edit elsewhere could open it.
				err = op.Check(policy.Limits{RefuseDryRun: !a.AllowPublic})
			}
			if err != nil {
				invalid = append(invalid, Invalid{Object: o, Err: err})
			} else {
				mo.Rules = op
			}
		}
		if len(mo.Routes) > 0 {
			mesh = append(mesh, mo)
		}
		if len(o.UnknownPaths) > 0 {
			mesh = append(mesh, &policy.Object{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name + " (paths betterauthz cannot match)",
				Routes: []policy.ServedRoute{{Hosts: o.UnknownPaths, Paths: []policy.RoutedPath{{Value: "/"}}}}})
		}
	}
	return policy.NewObjectIndex(mesh), invalid
}

// ServiceHosts are the names a Service answers to inside the cluster.
func ServiceHosts(name, namespace, clusterDomain string) []string {
	return []string{
		name,
		name + "." + namespace,
		name + "." + namespace + ".svc",
		name + "." + namespace + ".svc." + clusterDomain,
	}
}
