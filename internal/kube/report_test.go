package kube

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/testenv/logbuf"
)

// A conflict is logged once while it lasts, forgotten when it ends (the set of remembered
// problems never outgrows the current ones), and logged again if it comes back.
func TestReportedConflictsArePruned(t *testing.T) {
	logs := &logbuf.Buffer{}
	a := &Annotations{log: slog.New(slog.NewTextHandler(logs, nil)), noted: map[string]bool{}}
	svc := func(ns string) *policy.Object {
		return &policy.Object{Kind: "Service", Namespace: ns, Name: "orders", Rules: &policy.ObjectRules{},
			Routes: []policy.ServedRoute{{Hosts: []string{"orders"}, Paths: []policy.RoutedPath{{Value: "/"}}}}}
	}
	clash := policy.NewObjectIndex([]*policy.Object{svc("a"), svc("b")})
	calm := policy.NewObjectIndex([]*policy.Object{svc("a")})
	count := func() int { return strings.Count(logs.String(), "annotation conflict") }

	a.reportNotes(nil, nil, nil, clash)
	a.reportNotes(nil, nil, nil, clash)
	if count() != 1 {
		t.Fatalf("a lasting conflict logged %d times, want once", count())
	}
	a.reportNotes(nil, nil, nil, calm)
	if len(a.noted) != 0 {
		t.Fatalf("%d problems remembered after they ended", len(a.noted))
	}
	a.reportNotes(nil, nil, nil, clash)
	if count() != 2 {
		t.Fatalf("a conflict that came back logged %d times in all, want 2", count())
	}
}
