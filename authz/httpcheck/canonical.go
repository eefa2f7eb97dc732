package httpcheck

import (
	"net/http"
	"sync"
	"sync/atomic"
)

// canonicalKey is http.CanonicalHeaderKey(name), remembered: the names a check looks up and
// sets are a few constants and the config's identity headers, asked for in lower case, and
// canonicalizing one allocates its canonical form each time. At most maxCanonicalKeys are
// remembered, so a config reloaded with new names over and over cannot grow it without bound;
// beyond them names are canonicalized each time, as before.
func canonicalKey(name string) string {
	if m := canonicalKeys.Load(); m != nil {
		if k, ok := (*m)[name]; ok {
			return k
		}
	}
	k := http.CanonicalHeaderKey(name)
	canonicalMu.Lock()
	defer canonicalMu.Unlock()
	var old map[string]string
	if m := canonicalKeys.Load(); m != nil {
		old = *m
	}
	if len(old) < maxCanonicalKeys {
		m := make(map[string]string, len(old)+1)
		for n, c := range old {
			m[n] = c
		}
		m[name] = k
		canonicalKeys.Store(&m)
	}
	return k
}

// maxCanonicalKeys bounds canonicalKey's memory.
const maxCanonicalKeys = 256

var (
	// canonicalKeys is replaced, never written: lookups take no lock.
	canonicalKeys atomic.Pointer[map[string]string]
	canonicalMu   sync.Mutex
)
