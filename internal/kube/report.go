package kube

import (
	"slices"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
)

// rebuild indexes the objects the informers hold, publishes the index, and reports what is
// wrong with it: each problem once while it lasts, again if it comes back.
func (a *Annotations) rebuild(settings config.Annotations) {
	objs := a.sources.objects()
	index, invalid := BuildIndex(objs, settings)
	a.publish(index)
	a.metrics.AnnotationIndex(len(index.Objects), len(invalid), len(index.Conflicts))
	a.reportInvalid(invalid)
	a.reportNotes(objs, index)
	a.log.Debug("annotation index rebuilt", "objects", len(index.Objects), "invalid", len(invalid), "conflicts", len(index.Conflicts))
}

// reportInvalid logs, counts and records as a Kubernetes Event each newly malformed annotation,
// and lists those in force for /debug/routes.
func (a *Annotations) reportInvalid(invalid []Invalid) {
	still := map[string]bool{}
	var list []string
	for _, inv := range invalid {
		o := inv.Object
		msg := inv.Err.Error()
		list = append(list, o.Ref()+": "+msg)
		still[o.UID] = true
		if a.reported[o.UID] == msg {
			continue
		}
		a.reported[o.UID] = msg
		a.metrics.AnnotationInvalid(o.Kind)
		a.log.Warn("annotation ignored: the object's requests fall back to the config",
			"object", o.Ref(), "kind", o.Kind, "namespace", o.Namespace, "name", o.Name, "error", msg)
		if a.recorder != nil {
			a.recorder.Warn(ObjectRef{Kind: o.Kind, APIVersion: o.APIVersion, Namespace: o.Namespace, Name: o.Name, UID: o.UID, ResourceVersion: o.ResourceVersion},
				"InvalidAnnotation", "betterauthz ignores this object's policy, its requests fall back to the config: "+truncate(msg, 900))
		}
	}
	for uid := range a.reported {
		if !still[uid] {
			delete(a.reported, uid)
		}
	}
	slices.Sort(list)
	a.invalid.Store(&list)
}

// reportNotes logs each note on an object and each conflict once while it lasts. Only the
// current ones are remembered, so the set stays as small as the cluster's problems.
func (a *Annotations) reportNotes(objs []*Object, index *policy.ObjectIndex) {
	current := map[string]bool{}
	for _, o := range objs {
		for _, n := range o.Notes {
			key := o.UID + "|" + n
			current[key] = true
			if !a.noted[key] {
				a.log.Warn("annotation only partly applied", "object", o.Ref(), "note", n)
			}
		}
	}
	for _, c := range index.Conflicts {
		s := c.String()
		current[s] = true
		if !a.noted[s] {
			a.log.Warn("annotation conflict", "conflict", s)
		}
	}
	a.noted = current
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
