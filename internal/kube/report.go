package kube

import (
	"slices"
	"strings"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
)

// rebuild indexes the objects the informers hold, publishes the index, and reports what is
// wrong with it: each problem once while it lasts, again if it comes back.
func (a *Annotations) rebuild(settings config.Annotations) {
	objs := a.sources.objects()
	built := a.builder.Build(objs, settings, a.sources.cluster())
	index := built.Objects
	a.publish(index)
	a.metrics.AnnotationIndex(len(index.Objects), len(built.Invalid), len(index.Conflicts))
	list := a.reportInvalid(built.Invalid)
	for _, ig := range built.Ignored {
		list = append(list, ig.Object.Ref()+": not indexed: "+ig.Reason)
	}
	list = append(list, built.Dropped...)
	slices.Sort(list)
	a.invalid.Store(&list)
	a.reportNotes(objs, built.Ignored, built.Dropped, index)
	a.log.Debug("annotation index rebuilt", "objects", len(index.Objects), "invalid", len(built.Invalid), "ignored", len(built.Ignored), "conflicts", len(index.Conflicts))
}

// reportInvalid logs, counts and records as a Kubernetes Event each newly malformed annotation,
// and lists those in force for /debug/routes.
func (a *Annotations) reportInvalid(invalid []Invalid) []string {
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
			"object", o.Ref(), "kind", o.Kind, "namespace", o.Namespace, "name", o.Name, "error", truncate(msg, 2048))
		if a.recorder != nil {
			a.recorder.Warn(o.eventRef(), "InvalidAnnotation", "betterauthz ignores this object's policy, its requests fall back to the config: "+truncate(msg, 900))
		}
	}
	for uid := range a.reported {
		if !still[uid] {
			delete(a.reported, uid)
		}
	}
	return list
}

// reportNotes logs each note on an object, each annotated object left out of the index, and
// each conflict once while it lasts; an annotated object whose paths are read as regular
// expressions is also recorded as a Warning Event on it. Only the current ones are remembered,
// so the set stays as small as the cluster's problems.
func (a *Annotations) reportNotes(objs []*Object, ignored []Ignored, dropped []string, index *policy.ObjectIndex) {
	current := map[string]bool{}
	once := func(key string) bool {
		current[key] = true
		return !a.noted[key]
	}
	for _, o := range objs {
		for _, n := range o.Notes {
			if once(o.UID + "|" + n) {
				a.log.Warn("annotation only partly applied", "object", o.Ref(), "note", n)
			}
		}
		if o.Regex && o.hasPolicy() {
			msg := "betterauthz cannot read which paths this object routes (" + strings.Join(o.RegexReasons, "; ") +
				"): its policy applies to every path of its hosts and may only tighten them (public rules are ignored)"
			if once(o.UID + "|" + msg) {
				a.log.Warn("annotation applied to whole hosts, tighten only", "object", o.Ref(), "note", msg)
				if a.recorder != nil {
					a.recorder.Warn(o.eventRef(), "RegexPaths", truncate(msg, 900))
				}
			}
		}
	}
	for _, ig := range ignored {
		if once(ig.Object.UID + "|" + ig.Reason) {
			a.log.Warn("annotation ignored: the object routes no traffic this betterauthz decides, or is past a bound", "object", ig.Object.Ref(), "reason", ig.Reason)
		}
	}
	for _, d := range dropped {
		if once(d) {
			a.log.Warn("left out of the annotation index", "detail", d)
		}
	}
	for _, c := range index.Conflicts {
		if s := c.String(); once(s) {
			a.log.Warn("annotation conflict", "conflict", s)
		}
	}
	a.noted = current
}

func (o *Object) eventRef() ObjectRef {
	return ObjectRef{Kind: o.Kind, APIVersion: o.APIVersion, Namespace: o.Namespace, Name: o.Name, UID: o.UID, ResourceVersion: o.ResourceVersion}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
