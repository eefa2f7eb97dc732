package kube

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/betterauthz/betterauthz/internal/testenv/kubeapi"
)

var shop = ObjectRef{Kind: "Service", APIVersion: "v1", Namespace: "shop", Name: "orders", UID: "u-1", ResourceVersion: "7"}

// TestEventsCorrelate: what client-go's tools/record would write for a sequence of Warns.
func TestEventsCorrelate(t *testing.T) {
	type warn struct {
		about   ObjectRef
		message string
		after   time.Duration // since the previous Warn
	}
	type want struct {
		skip    bool
		message string
		count   int
		sameAs  int // index of the Warn whose Event this one updates (-1: a new Event)
	}
	same := func(n int, message string) []warn {
		var ws []warn
		for range n {
			ws = append(ws, warn{about: shop, message: message})
		}
		return ws
	}
	distinct := func(n int) []warn {
		var ws []warn
		for i := range n {
			ws = append(ws, warn{about: shop, message: fmt.Sprintf("m%d", i)})
		}
		return ws
	}
	tests := map[string]struct {
		warns []warn
		check map[int]want // by index into warns
	}{
		"an event once is created": {
			warns: same(1, "bad"),
			check: map[int]want{0: {message: "bad", count: 1, sameAs: -1}},
		},
		"the same event again raises the count of the first": {
			warns: same(3, "bad"),
			check: map[int]want{1: {message: "bad", count: 2, sameAs: 0}, 2: {message: "bad", count: 3, sameAs: 0}},
		},
		"another object's event is its own": {
			warns: []warn{{about: shop, message: "bad"}, {about: ObjectRef{Kind: "Service", APIVersion: "v1", Namespace: "shop", Name: "cart", UID: "u-2"}, message: "bad"}},
			check: map[int]want{1: {message: "bad", count: 1, sameAs: -1}},
		},
		"from the tenth different message they are combined": {
			warns: distinct(12),
			check: map[int]want{
				8:  {message: "m8", count: 1, sameAs: -1},
				9:  {message: "(combined from similar events): m9", count: 1, sameAs: -1},
				10: {message: "(combined from similar events): m10", count: 2, sameAs: 9},
				11: {message: "(combined from similar events): m11", count: 3, sameAs: 9},
			},
		},
		"after ten quiet minutes messages are counted afresh": {
			warns: append(distinct(9), warn{about: shop, message: "later", after: 11 * time.Minute}),
			check: map[int]want{9: {message: "later", count: 1, sameAs: -1}},
		},
		"an object gets 25 events, then one per 5 minutes": {
			warns: append(same(26, "bad"), warn{about: shop, message: "bad", after: 5 * time.Minute}, warn{about: shop, message: "bad"}),
			check: map[int]want{
				24: {message: "bad", count: 25, sameAs: 0},
				25: {skip: true},
				26: {message: "bad", count: 27, sameAs: 0}, // the skipped one still counted
				27: {skip: true},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			clock := clocktesting.NewFakeClock(at)
			sink := &recordingSink{written: make(chan *corev1.Event, 100)}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rec, stop := newEventRecorder(ctx, sink, record.CorrelatorOptions{Clock: clock})
			defer stop()
			got := make([]*corev1.Event, len(tc.warns))
			for i, w := range tc.warns {
				at = at.Add(time.Millisecond + w.after)
				clock.SetTime(at)
				rec.Warn(w.about, "InvalidAnnotation", w.message)
				got[i] = sink.next(t, i, tc.check[i].skip)
			}
			for i, w := range tc.check {
				ev := got[i]
				if w.skip {
					if ev != nil {
						t.Errorf("warn %d: want none written, got %q count %d", i, ev.Message, ev.Count)
					}
					continue
				}
				if ev == nil {
					t.Fatalf("warn %d: nothing to write", i)
				}
				if ev.Message != w.message || int(ev.Count) != w.count {
					t.Errorf("warn %d: got %q count %d, want %q count %d", i, ev.Message, ev.Count, w.message, w.count)
				}
				if w.sameAs >= 0 && (ev.Name != got[w.sameAs].Name || !ev.FirstTimestamp.Equal(&got[w.sameAs].FirstTimestamp)) {
					t.Errorf("warn %d: Event %s (first %v), want warn %d's %s (first %v)", i, ev.Name, ev.FirstTimestamp, w.sameAs, got[w.sameAs].Name, got[w.sameAs].FirstTimestamp)
				}
				if w.sameAs < 0 && (!ev.FirstTimestamp.Equal(&ev.LastTimestamp) || !strings.HasPrefix(ev.Name, ev.InvolvedObject.Name+".")) {
					t.Errorf("warn %d: a new Event named %s, first %v, last %v", i, ev.Name, ev.FirstTimestamp, ev.LastTimestamp)
				}
				if ev.Namespace != ev.InvolvedObject.Namespace {
					t.Errorf("warn %d: Event in namespace %q, want the object's %q", i, ev.Namespace, ev.InvolvedObject.Namespace)
				}
			}
		})
	}
}

// recordingSink is an EventSink that keeps what the broadcaster writes, in order.
type recordingSink struct{ written chan *corev1.Event }

func (s *recordingSink) Create(e *corev1.Event) (*corev1.Event, error) { return s.write(e) }
func (s *recordingSink) Update(e *corev1.Event) (*corev1.Event, error) { return s.write(e) }
func (s *recordingSink) Patch(e *corev1.Event, _ []byte) (*corev1.Event, error) {
	return s.write(e)
}

func (s *recordingSink) write(e *corev1.Event) (*corev1.Event, error) {
	c := e.DeepCopy()
	s.written <- c
	return c, nil
}

// next is what the broadcaster wrote for warn i: waited for, or (skip: none is expected) nil
// when nothing comes within a while.
func (s *recordingSink) next(t *testing.T, i int, skip bool) *corev1.Event {
	t.Helper()
	wait := 10 * time.Second
	if skip {
		wait = 300 * time.Millisecond
	}
	select {
	case e := <-s.written:
		return e
	case <-time.After(wait):
		if !skip {
			t.Fatalf("warn %d: nothing written within %s", i, wait)
		}
		return nil
	}
}

// TestEventsOnARealAPIServer: an event is created as core/v1 Event; the same event again
// patches its count; when the Event has gone meanwhile, it is created again.
func TestEventsOnARealAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Kubernetes API server")
	}
	api, err := kubeapi.Start()
	if err != nil {
		t.Fatalf("the Kubernetes API server could not be started: %v", err)
	}
	t.Cleanup(api.Stop)
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(api.Admin)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clients, err := NewClients(api.Admin)
	if err != nil {
		t.Fatal(err)
	}
	rec, stop := NewEventRecorder(clients, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(stop)

	// events waits for the Events on the object to be exactly want (by count).
	events := func(want ...int32) []corev1.Event {
		t.Helper()
		var list *corev1.EventList
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			list, err = cs.CoreV1().Events("shop").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=orders"})
			if err != nil {
				t.Fatal(err)
			}
			var counts []int32
			for _, e := range list.Items {
				counts = append(counts, e.Count)
			}
			if fmt.Sprint(counts) == fmt.Sprint(want) {
				return list.Items
			}
			if time.Now().After(deadline) {
				t.Fatalf("Events on Service shop/orders have counts %v, want %v", counts, want)
			}
		}
	}

	rec.Warn(shop, "InvalidAnnotation", "bad")
	first := events(1)[0]
	if first.Type != corev1.EventTypeWarning || first.Reason != "InvalidAnnotation" || first.Message != "bad" ||
		first.Source.Component != "betterauthz" || first.ReportingController != "betterauthz" ||
		first.InvolvedObject != (corev1.ObjectReference{Kind: "Service", APIVersion: "v1", Namespace: "shop", Name: "orders", UID: "u-1", ResourceVersion: "7"}) ||
		first.FirstTimestamp.IsZero() || !first.FirstTimestamp.Equal(&first.LastTimestamp) || !strings.HasPrefix(first.Name, "orders.") {
		t.Fatalf("Event: %+v", first)
	}

	rec.Warn(shop, "InvalidAnnotation", "bad")
	second := events(2)[0]
	if second.Name != first.Name || !second.FirstTimestamp.Equal(&first.FirstTimestamp) || second.Message != "bad" {
		t.Fatalf("the same event again: %+v, want the first (%s) with count 2", second, first.Name)
	}

	if err := cs.CoreV1().Events("shop").Delete(ctx, first.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	events()
	rec.Warn(shop, "InvalidAnnotation", "bad")
	if third := events(3)[0]; third.Name != first.Name {
		t.Fatalf("after the Event was deleted: %+v", third)
	}
}
