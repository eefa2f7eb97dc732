package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/metrics"
	"github.com/betterauthz/betterauthz/internal/strictyaml"
	"github.com/betterauthz/betterauthz/jwks"
)

// keySwitchNote is how often a config waiting for the keys at a new JWKS address says so.
const keySwitchNote = 30 * time.Second

// Config sources, by precedence: a ConfigMap, once it has supplied a config, wins over a file.
const (
	sourceDefaults  = "defaults"
	sourceFile      = "file"
	sourceConfigMap = "configmap"
)

// engine applies configs. It turns a config document into a snapshot, keeps one key set
// running for the snapshot's JWKS address, and swaps the snapshot in whole, so requests never
// see half a config. A config that does not parse or validate is refused — logged with the keys
// that are wrong, counted — and the last good one stays in force. Where configs come from (a
// file, a ConfigMap) is not its business; it only ranks them. Until the first config, every
// check answers 503.
type engine struct {
	log     *slog.Logger
	metrics *metrics.Metrics
	getenv  func(string) string
	svc     *authz.Service

	// Hooks, set before the first apply.
	onKeys     func()                 // a key set fetched (readiness)
	onSettings func(*config.Settings) // a config was applied (annotation watcher)

	bg context.Context // lifetime of key sets
	wg sync.WaitGroup  // running key sets

	keys      atomic.Pointer[jwks.KeySet] // in force
	hasConfig atomic.Bool

	mu        sync.Mutex // serialises apply
	stopKeys  context.CancelFunc
	settings  *config.Settings
	source    string
	digest    [32]byte // of the document in force
	configMap bool     // a ConfigMap has supplied a config: files no longer apply
	pending   *pending // a config waiting for the keys at its new JWKS address

	snapMu   sync.Mutex // guards the parts a snapshot is made of
	policy   *authz.Policy
	verifier *jwks.Verifier
	mesh     *authz.MeshRoutes
}

func newEngine(bg context.Context, log *slog.Logger, m *metrics.Metrics, getenv func(string) string, observer authz.Observer) *engine {
	return &engine{
		bg: bg, log: log, metrics: m, getenv: getenv,
		svc:        authz.NewService(&authz.Snapshot{}, observer),
		onKeys:     func() {},
		onSettings: func(*config.Settings) {},
	}
}

// apply parses data and, if valid, puts it in force. source is sourceFile, sourceConfigMap or
// sourceDefaults. An unchanged document is a no-op; a file is ignored once a ConfigMap has
// supplied the config.
func (e *engine) apply(source string, data []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if source == sourceFile && e.configMap {
		e.log.Info("config file change ignored: the ConfigMap's config is in force")
		return nil
	}
	digest := sha256.Sum256(data)
	if e.settings != nil && digest == e.digest && source == e.source && e.pending == nil {
		return nil
	}
	if e.pending != nil && digest == e.pending.digest && source == e.pending.source {
		return nil // already waiting for this one's keys
	}
	s, err := config.Parse(data, e.getenv)
	if err != nil {
		e.metrics.ConfigLoaded(source, err, time.Now())
		if e.settings != nil {
			e.log.Error("config refused; the last good config stays in force", "source", source, "problems", problemList(err))
		}
		return err
	}

	keys := e.keys.Load()
	if keys == nil || !sameKeySource(e.settings, s) {
		newKeys, stopNew, err := e.startKeys(s)
		if err != nil {
			return err
		}
		e.cancelPending()
		if keys == nil {
			// The first config: nothing to keep, it takes over now (not ready until keys load).
			return e.commit(s, digest, source, newKeys, stopNew)
		}
		// A new JWKS address: the config in force keeps answering until the new keys have
		// loaded, so that a reload to a wrong or unreachable jwksURL cannot take the service
		// down.
		p := &pending{settings: s, digest: digest, source: source, keys: newKeys, stop: stopNew, done: make(chan struct{})}
		e.pending = p
		e.log.Info("config accepted: it takes over once the signing keys at its jwksURL have loaded; until then the previous config stays in force",
			"source", source, "jwks_url", s.JWKSURL)
		go e.awaitPending(p)
		return nil
	}
	e.cancelPending()
	return e.commit(s, digest, source, nil, nil)
}

// pending is a config waiting for its new key set to load.
type pending struct {
	settings *config.Settings
	digest   [32]byte
	source   string
	keys     *jwks.KeySet
	stop     context.CancelFunc
	done     chan struct{} // closed when superseded
}

// cancelPending drops a config still waiting for its keys (a newer one replaces it). Called
// with e.mu held.
func (e *engine) cancelPending() {
	if e.pending != nil {
		close(e.pending.done)
		e.pending.stop()
		e.pending = nil
	}
}

// awaitPending puts a pending config in force once its keys have loaded, unless a newer config
// supersedes it first. It says so while it waits.
func (e *engine) awaitPending(p *pending) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	started := time.Now()
	nextNote := started.Add(keySwitchNote)
	for !p.keys.Loaded() {
		select {
		case <-p.done:
			return
		case <-e.bg.Done():
			return
		case now := <-t.C:
			if now.After(nextNote) {
				e.log.Warn("still waiting for the signing keys at the new jwksURL; the previous config stays in force",
					"jwks_url", p.keys.URL(), "waiting", now.Sub(started).Round(time.Second).String())
				nextNote = now.Add(keySwitchNote)
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pending != p {
		return
	}
	e.pending = nil
	_ = e.commit(p.settings, p.digest, p.source, p.keys, p.stop)
}

// commit puts a validated config in force. newKeys, when set, replaces the key set. Called
// with e.mu held.
func (e *engine) commit(s *config.Settings, digest [32]byte, source string, newKeys *jwks.KeySet, stopNew context.CancelFunc) error {
	keys := e.keys.Load()
	if newKeys != nil {
		keys = newKeys
	}
	verifier := e.verifier
	if newKeys != nil || !sameVerification(e.settings, s) {
		var err error
		if verifier, err = newVerifier(s, keys); err != nil {
			if stopNew != nil {
				stopNew()
			}
			return err
		}
	}
	e.snapMu.Lock()
	e.policy, e.verifier = s.Policy(), verifier
	e.publishLocked()
	e.snapMu.Unlock()
	if newKeys != nil {
		e.keys.Store(newKeys)
		if e.stopKeys != nil {
			e.stopKeys()
		}
		e.stopKeys = stopNew
	}
	e.settings, e.digest, e.source = s, digest, source
	if source == sourceConfigMap {
		e.configMap = true
	}
	e.hasConfig.Store(true)
	e.metrics.ConfigLoaded(source, nil, time.Now())
	e.log.Info("config applied", "source", source, "issuer", s.Issuer, "audiences", s.Audiences,
		"jwks_url", s.JWKSURL, "algorithms", s.Algorithms, "routes", len(s.Routes),
		"default_policy", s.DefaultPolicy.String())
	e.onSettings(s)
	e.onKeys()
	return nil
}

// setMesh installs the policies from Kubernetes objects (nil: none).
func (e *engine) setMesh(m *authz.MeshRoutes) {
	e.snapMu.Lock()
	defer e.snapMu.Unlock()
	e.mesh = m
	e.publishLocked()
}

// publishLocked swaps in a snapshot of the current parts. Before the first config there is
// nothing to publish: checks keep answering 503.
func (e *engine) publishLocked() {
	if e.policy == nil {
		return
	}
	e.svc.Swap(&authz.Snapshot{Policy: e.policy, Verifier: e.verifier, Mesh: e.mesh})
}

// current returns the settings and mesh in force (nil before the first config).
func (e *engine) current() (*config.Settings, *authz.MeshRoutes) {
	e.mu.Lock()
	s := e.settings
	e.mu.Unlock()
	e.snapMu.Lock()
	defer e.snapMu.Unlock()
	return s, e.mesh
}

// startKeys starts a key set for s; the returned func stops it.
func (e *engine) startKeys(s *config.Settings) (*jwks.KeySet, context.CancelFunc, error) {
	ks, err := jwks.NewKeySet(jwks.KeySetOptions{
		URL:             s.JWKSURL,
		RefreshInterval: s.JWKSRefreshInterval,
		MaxKeyAge:       s.MaxKeyAge,
		CAFile:          s.JWKSCAFile,
		Logger:          e.log,
		Observer:        fetchObserver{e.metrics, func() { e.onKeys() }},
	})
	if errors.Is(err, jwks.ErrFetchCAFile) {
		return nil, nil, strictyaml.Errorf("jwksCAFile", 0, "%v", err)
	}
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

// keysLoaded reports whether the key set in force has loaded.
func (e *engine) keysLoaded() bool {
	ks := e.keys.Load()
	return ks != nil && ks.Loaded()
}

// keysFresh reports whether the key set in force is within maxKeyAge (true before any load:
// keysLoaded covers that).
func (e *engine) keysFresh() bool {
	ks := e.keys.Load()
	return ks == nil || !ks.Stale()
}

// sameKeySource reports whether two configs fetch their keys alike, so that a reload keeps the
// key set that is running.
func sameKeySource(a, b *config.Settings) bool {
	return a.JWKSURL == b.JWKSURL && a.JWKSRefreshInterval == b.JWKSRefreshInterval &&
		a.MaxKeyAge == b.MaxKeyAge && a.JWKSCAFile == b.JWKSCAFile
}

// wait returns once every key set has stopped (after bg ends).
func (e *engine) wait() { e.wg.Wait() }

// sameVerification reports whether two configs verify tokens alike, so that a reload that only
// changes policy keeps the verifier and its warm cache.
func sameVerification(a, b *config.Settings) bool {
	return a != nil && a.Issuer == b.Issuer && slices.Equal(a.Audiences, b.Audiences) &&
		slices.Equal(a.Algorithms, b.Algorithms) && a.ClockSkew == b.ClockSkew &&
		a.CacheEntries == b.CacheEntries && a.CacheBytes == b.CacheBytes
}

func problemList(err error) []string {
	var out []string
	for _, p := range config.Problems(err) {
		out = append(out, p.Error())
	}
	return out
}
