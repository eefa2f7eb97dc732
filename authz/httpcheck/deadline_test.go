package httpcheck

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

// TestDeadlineActsAsWithTimeout: the lazy deadline answers as context.WithTimeout would —
// before and after its deadline, with or without a timer made, for contexts derived from it,
// and when the request's context ends first.
func TestDeadlineActsAsWithTimeout(t *testing.T) {
	parent := context.WithValue(context.Background(), ctxKey{}, "v")

	t.Run("before, no timer", func(t *testing.T) {
		var d deadline
		d.set(parent, time.Now().Add(time.Hour))
		defer d.stop()
		if err := d.Err(); err != nil {
			t.Fatalf("Err = %v", err)
		}
		if at, ok := d.Deadline(); !ok || time.Until(at) < 59*time.Minute {
			t.Fatalf("Deadline = %v, %v", at, ok)
		}
		if d.Value(ctxKey{}) != "v" {
			t.Fatal("the request's values are lost")
		}
		if d.timed.Load() != nil {
			t.Fatal("a timer was made without anything waiting")
		}
	})
	t.Run("after, no timer", func(t *testing.T) {
		var d deadline
		d.set(parent, time.Now().Add(-time.Millisecond))
		if err := d.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err = %v, want DeadlineExceeded", err)
		}
		select {
		case <-d.Done():
		case <-time.After(time.Second):
			t.Fatal("Done not closed after the deadline")
		}
	})
	t.Run("waiting: Done closes at the deadline, derived contexts too", func(t *testing.T) {
		var d deadline
		d.set(parent, time.Now().Add(30*time.Millisecond))
		defer d.stop()
		child, cancel := context.WithCancel(&d)
		defer cancel()
		select {
		case <-child.Done():
		case <-time.After(2 * time.Second):
			t.Fatal("a derived context outlived the deadline")
		}
		if !errors.Is(d.Err(), context.DeadlineExceeded) || !errors.Is(child.Err(), context.DeadlineExceeded) {
			t.Fatalf("Err = %v, child %v", d.Err(), child.Err())
		}
		if d.Value(ctxKey{}) != "v" || child.Value(ctxKey{}) != "v" {
			t.Fatal("the request's values are lost")
		}
	})
	t.Run("the request's context ends first", func(t *testing.T) {
		req, cancel := context.WithCancel(parent)
		var d deadline
		d.set(req, time.Now().Add(time.Hour))
		defer d.stop()
		cancel()
		if !errors.Is(d.Err(), context.Canceled) {
			t.Fatalf("Err = %v, want Canceled", d.Err())
		}
		select {
		case <-d.Done():
		case <-time.After(time.Second):
			t.Fatal("Done not closed when the request's context ended")
		}
	})
	t.Run("an earlier deadline of the request's wins", func(t *testing.T) {
		req, cancel := context.WithTimeout(parent, time.Minute)
		defer cancel()
		var d deadline
		d.set(req, time.Now().Add(time.Hour))
		if at, _ := d.Deadline(); time.Until(at) > time.Minute {
			t.Fatalf("Deadline %v is the later one", at)
		}
	})
	t.Run("stop ends a timer", func(t *testing.T) {
		var d deadline
		d.set(parent, time.Now().Add(time.Hour))
		done := d.Done()
		d.stop()
		select {
		case <-done:
		case <-time.After(time.Second):
			t.Fatal("stop left the timer running")
		}
	})
}
