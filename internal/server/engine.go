package server

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/metrics"
	"github.com/betterauthz/betterauthz/jwks"
)

// keySwitchWait is how long a reload that changes the JWKS address waits for the new key set
// to load before it takes over anyway.
const keySwitchWait = 10 * time.Second

// engine applies configs. It turns a config document into a snapshot, keeps one key set
// running for the snapshot's JWKS address, and swaps the snapshot in whole, so requests never
// see half a config. A config that does not parse or validate is refused — logged with the keys
// that are wrong, counted — and the last good one stays in force. Where configs come from (a
// file, a ConfigMap) is not its business.
type engine struct {
	log      *slog.Logger
	metrics  *metrics.Metrics
	getenv   func(string) string
	observer authz.Observer
	onKeys   func() // told when a key set fetched, for readiness

	bg context.Context // lifetime of key sets
	wg sync.WaitGroup  // running key sets

	keys atomic.Pointer[jwks.KeySet] // in force

	mu       sync.Mutex // serialises apply
	svc      *authz.Service
	stopKeys context.CancelFunc
	settings *config.Settings
	digest   [32]byte // of the document in force
}

func newEngine(bg context.Context, log *slog.Logger, m *metrics.Metrics, getenv func(string) string, observer authz.Observer) *engine {
	return &engine{bg: bg, log: log, metrics: m, getenv: getenv, observer: observer, onKeys: func() {}}
}

// apply parses data and, if valid, puts it in force. source ("file", "configmap", "defaults")
// labels logs and metrics. An unchanged document is a no-op.
func (e *engine) apply(source string, data []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	digest := sha256.Sum256(data)
	if e.svc != nil && digest == e.digest {
		return nil
	}
	s, err := config.Parse(data, e.getenv)
	if err != nil {
		e.metrics.ConfigLoaded(source, err, time.Now())
		if e.svc != nil {
			problems := []string{}
			for _, p := range config.Problems(err) {
				problems = append(problems, p.Error())
			}
			e.log.Error("config refused; the last good config stays in force", "source", source, "problems", problems)
		}
		return err
	}

	keys := e.keys.Load()
	var newKeys *jwks.KeySet
	var stopNew context.CancelFunc
	if keys == nil || keys.URL() != s.JWKSURL || e.settings.JWKSRefreshInterval != s.JWKSRefreshInterval {
		if newKeys, stopNew, err = e.startKeys(s); err != nil {
			return err
		}
		if keys != nil {
			e.awaitKeys(newKeys)
		}
		keys = newKeys
	}
	verifier, err := newVerifier(s, keys)
	if err != nil {
		if stopNew != nil {
			stopNew()
		}
		return err
	}
	snap := &authz.Snapshot{Policy: s.Policy(), Verifier: verifier}
	if e.svc == nil {
		e.svc = authz.NewService(snap, e.observer)
	} else {
		e.svc.Swap(snap)
	}
	if newKeys != nil {
		e.keys.Store(newKeys)
		if e.stopKeys != nil {
			e.stopKeys()
		}
		e.stopKeys = stopNew
	}
	e.settings, e.digest = s, digest
	e.metrics.ConfigLoaded(source, nil, time.Now())
	e.log.Info("config applied", "source", source, "issuer", s.Issuer, "audiences", s.Audiences,
		"jwks_url", s.JWKSURL, "algorithms", s.Algorithms, "routes", len(s.Routes),
		"default_policy", s.DefaultPolicy.String())
	e.onKeys()
	return nil
}

// startKeys starts a key set for s; the returned func stops it.
func (e *engine) startKeys(s *config.Settings) (*jwks.KeySet, context.CancelFunc, error) {
	ks, err := jwks.NewKeySet(jwks.KeySetOptions{
		URL:             s.JWKSURL,
		RefreshInterval: s.JWKSRefreshInterval,
		Logger:          e.log,
		Observer:        fetchObserver{e.metrics, func() { e.onKeys() }},
	})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(e.bg)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		_ = ks.Run(ctx)
	}()
	return ks, cancel, nil
}

// awaitKeys gives a new JWKS address a moment to load before it takes over, so that a reload
// does not turn into 503s.
func (e *engine) awaitKeys(ks *jwks.KeySet) {
	deadline := time.Now().Add(keySwitchWait)
	for !ks.Loaded() {
		if time.Now().After(deadline) || e.bg.Err() != nil {
			e.log.Warn("new jwksURL not loaded yet; switching anyway, checks that need a token answer 503 until it loads",
				"jwks_url", ks.URL(), "waited", keySwitchWait.String())
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// keysLoaded reports whether the key set in force has loaded.
func (e *engine) keysLoaded() bool {
	ks := e.keys.Load()
	return ks != nil && ks.Loaded()
}

// service is the ext_authz service (after the first successful apply).
func (e *engine) service() *authz.Service {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.svc
}

// wait returns once every key set has stopped (after bg ends).
func (e *engine) wait() { e.wg.Wait() }
