package httpcheck

import (
	"net/http"
	"testing"
)

// canonicalKey is http.CanonicalHeaderKey, remembered or not.
func TestCanonicalKey(t *testing.T) {
	for _, name := range []string{"authorization", "x-user-id", "X-USER-ID", "x_user_id", "a b", "", "ünicode", "x-user-id"} {
		if got, want := canonicalKey(name), http.CanonicalHeaderKey(name); got != want {
			t.Errorf("canonicalKey(%q) = %q, want %q", name, got, want)
		}
	}
}
