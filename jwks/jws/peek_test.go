package jws

import (
	"encoding/base64"
	"testing"
	"unsafe"
)

// TestPeekRemembersCopies: a remembered answer belongs to the segment's bytes as they were
// read, not to memory the caller reuses for the next token (a CheckRequest's bytes).
func TestPeekRemembersCopies(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	access := []byte(enc([]byte(`{"alg":"EdDSA","typ":"at+jwt","kid":"k"}`)) + ".e30.sig")
	user := []byte(enc([]byte(`{"alg":"EdDSA","typ":"JWT","kid":"kkkk"}`)) + ".e30.sig")
	if len(access) != len(user) {
		t.Fatalf("the two tokens must have the same length: %d, %d", len(access), len(user))
	}
	buf := append([]byte(nil), access...)
	token := unsafe.String(&buf[0], len(buf))
	if at, ok := PeekAccessToken(token); !ok || !at {
		t.Fatalf("access token: %v, %v", at, ok)
	}
	copy(buf, user) // the same memory, now another token
	if at, ok := PeekAccessToken(token); !ok || at {
		t.Fatalf("user token read from reused memory: %v, %v (the remembered answer of the bytes before)", at, ok)
	}
	known := string(access)
	PeekAccessToken(known)
	if n := testing.AllocsPerRun(100, func() { PeekAccessToken(known) }); n > 0 {
		t.Fatalf("a remembered segment allocates %v times", n)
	}
}
