package server

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/metrics"
	"github.com/betterauthz/betterauthz/jwks"
)

// Config sources, by precedence: a ConfigMap, once it has supplied a config, wins over a file.
const (
	sourceDefaults  = "defaults"
	sourceFile      = "file"
	sourceConfigMap = "configmap"
)

// Events the reloader applies, sent by the config sources, the key sets and the annotation
// watcher.
type (
	// document is a config document from a source.
	document struct {
		source string
		data   []byte
	}
	// sourceDeleted: the source's config is gone (a deleted ConfigMap); the last good one stays.
	sourceDeleted struct{ source string }
	// sourceInvalid: the source exists but holds no config (a ConfigMap without config.yaml).
	sourceInvalid struct {
		source string
		err    error
	}
	// sourceSynced: a watched source has been listed once (readiness waits for it).
	sourceSynced struct{}
	// keysFetched: a key set fetched its JWKS (readiness, and a config waiting for its keys).
	keysFetched struct{ keys *jwks.KeySet }
	// objectsIndexed: the annotation watcher built a new index of Kubernetes objects (nil: off).
	objectsIndexed struct{ objects *policy.ObjectIndex }
)

// reloader is the one place that applies config: sources send it documents, key sets their
// fetches, the annotation watcher its indexes, and it alone turns them into the Live state the
// authorizer decides with — published whole, so that requests never see half a config. A
// document that does not parse or validate is refused (logged with the keys that are wrong,
// counted) and the last good config stays in force. Where documents come from is not its
// business; it only ranks the sources. Until the first config, every check answers 503.
type reloader struct {
	log        *slog.Logger
	metrics    *metrics.Metrics
	getenv     func(string) string
	authorizer *authz.Authorizer
	events     chan any

	// Told after each event: readiness re-evaluates, the annotation watcher gets its settings.
	changed    func()
	onSettings func(config.Annotations)
	// onRefused is told when the ConfigMap's config is refused (a Kubernetes Event on it).
	onRefused func(err error)
	// fatal receives a refused config when there is no good one to keep (a bad ConfigMap at
	// start-up stops the process, as a bad --config file does).
	fatal chan error

	bg   context.Context // lifetime of key sets
	wg   sync.WaitGroup  // running key sets
	done chan struct{}   // closed when run returns: later events are dropped

	state atomic.Pointer[state] // for readers on other goroutines (readiness, /debug/routes)

	// Owned by run.
	settings  *config.Settings
	digest    [32]byte // of the document in force
	source    string
	configMap bool     // a ConfigMap has supplied a config: files no longer apply
	ring      keyRing  // the key sets of the config in force, one per issuer
	pending   *pending // a config waiting for the keys at its new JWKS addresses
	live      authz.Snapshot
}

// state is what other goroutines may read of the reloader's, published after each event.
type state struct {
	settings *config.Settings // nil before the first config
	objects  *policy.ObjectIndex
	keys     []*jwks.KeySet // the key sets in force, one per issuer, in the config's order
	verifier authz.TokenVerifier
}

func newReloader(bg context.Context, log *slog.Logger, m *metrics.Metrics, getenv func(string) string, a *authz.Authorizer) *reloader {
	r := &reloader{
		log: log, metrics: m, getenv: getenv, authorizer: a, bg: bg,
		events:     make(chan any, 16),
		changed:    func() {},
		onSettings: func(config.Annotations) {},
		onRefused:  func(error) {},
		fatal:      make(chan error, 1),
		done:       make(chan struct{}),
	}
	r.state.Store(&state{})
	return r
}

// send queues an event. Once the reloader has stopped (the process is draining) it is dropped,
// so that a key set or an informer never waits on it.
func (r *reloader) send(e any) {
	select {
	case r.events <- e:
	case <-r.done:
	case <-r.bg.Done():
	}
}

// run applies events until ctx ends.
func (r *reloader) run(ctx context.Context) error {
	defer close(r.done)
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-r.events:
			r.handle(e)
		}
	}
}

func (r *reloader) handle(e any) {
	switch e := e.(type) {
	case document:
		if err := r.apply(e.source, e.data); err != nil && e.source == sourceConfigMap {
			r.onRefused(err)
			r.refusedConfigMap(err)
		}
	case sourceInvalid:
		r.metrics.ConfigLoaded(e.source, e.err, time.Now())
		r.log.Error("config refused; the last good config stays in force", "source", e.source, "problems", []string{e.err.Error()})
		r.onRefused(e.err)
		r.refusedConfigMap(e.err)
	case sourceDeleted:
		r.metrics.ConfigDeleted(e.source)
		r.log.Error("ConfigMap deleted: the last good config stays in force until it is recreated", "source", e.source)
	case keysFetched:
		r.keysFetched(e.keys)
	case objectsIndexed:
		r.live.Objects = e.objects
		r.publish()
	case sourceSynced:
	}
	r.changed()
}

// refusedConfigMap stops the process when the ConfigMap's config is refused and there is no
// good config to keep.
func (r *reloader) refusedConfigMap(err error) {
	if r.settings != nil {
		return // logged and counted; the last good config stays
	}
	select {
	case r.fatal <- err:
	default:
	}
}

// apply parses data and, if valid, puts it in force. An unchanged document is a no-op; a file
// is ignored once a ConfigMap has supplied the config.
func (r *reloader) apply(source string, data []byte) error {
	if source == sourceFile && r.configMap {
		r.log.Info("config file change ignored: the ConfigMap's config is in force")
		return nil
	}
	digest := sha256.Sum256(data)
	if r.settings != nil && digest == r.digest && source == r.source && r.pending == nil {
		return nil
	}
	if r.pending != nil && digest == r.pending.digest && source == r.pending.source {
		return nil // already waiting for this one's keys
	}
	s, err := config.Parse(data, r.getenv)
	if err != nil {
		r.metrics.ConfigLoaded(source, err, time.Now())
		if r.settings != nil {
			r.log.Error("config refused; the last good config stays in force", "source", source, "problems", problemList(err))
		}
		return err
	}
	if err := r.switchKeys(s, digest, source); err != nil {
		r.metrics.ConfigLoaded(source, err, time.Now())
		if r.settings != nil {
			r.log.Error("config refused; the last good config stays in force", "source", source, "problems", problemList(err))
		}
		return err
	}
	return nil
}

// commit puts a validated config in force with its key sets, stopping the sets it no longer
// uses.
func (r *reloader) commit(s *config.Settings, digest [32]byte, source string, ring keyRing) error {
	v := verifiers{r.live.Verifier, r.live.SessionVerifier, r.live.Sessions}
	if !slices.Equal(ring, r.ring) || !sameVerification(r.settings, s) {
		var err error
		if v, err = newVerifiers(s, ring); err != nil {
			stopUnused(ring, r.ring)
			return err
		}
	}
	r.live.Config = s.Compile()
	r.live.Verifier, r.live.SessionVerifier, r.live.Sessions = v.tokens, v.cookies, v.sessions
	for _, k := range stopUnused(r.ring, ring) {
		if ring.named(k.name) == nil {
			r.metrics.IssuerRemoved(k.name)
		}
	}
	r.ring = ring
	r.settings, r.digest, r.source = s, digest, source
	if source == sourceConfigMap {
		r.configMap = true
	}
	r.publish()
	// After publish, so that a fetch ending meanwhile, seeing its set in force, sets the same.
	for _, k := range ring {
		r.metrics.KeySet(k.name, k.keys.Keys(), k.keys.LastSuccess(), k.keys.Stale())
	}
	r.metrics.ConfigLoaded(source, nil, time.Now())
	r.log.Info("config applied", "source", source, "issuers", issuerSummary(s.Issuers), "routes", len(s.Routes),
		"default_policy", s.DefaultPolicy.String())
	r.onSettings(s.Annotations)
	return nil
}

// publish hands the authorizer a new Live and other goroutines the new state. Before the
// first config there is nothing to decide with: checks keep answering 503.
func (r *reloader) publish() {
	r.state.Store(&state{settings: r.settings, objects: r.live.Objects, keys: r.ring.sets(), verifier: r.live.Verifier})
	if r.live.Config == nil {
		return
	}
	live := r.live
	r.authorizer.Publish(&live)
}

// current returns the settings and objects in force (nil before the first config), the key
// set in force, for other goroutines.
func (r *reloader) current() *state { return r.state.Load() }

// hasConfig reports whether a config is in force.
func (r *reloader) hasConfig() bool { return r.current().settings != nil }

// keysLoaded reports whether the key sets in force are ready to serve: each has tried a first
// fetch, and at least one has loaded. An issuer that is down leaves the others serving (its
// tokens are answered 503 until its keys load).
func (r *reloader) keysLoaded() bool {
	sets := r.current().keys
	return len(sets) > 0 &&
		!slices.ContainsFunc(sets, func(k *jwks.KeySet) bool { return !k.Attempted() }) &&
		slices.ContainsFunc(sets, (*jwks.KeySet).Loaded)
}

// keysFresh reports whether some loaded key set in force is within maxKeyAge (true before any
// has loaded: keysLoaded covers that). One issuer's stale keys refuse its tokens alone.
func (r *reloader) keysFresh() bool {
	sets := r.current().keys
	return !slices.ContainsFunc(sets, (*jwks.KeySet).Loaded) ||
		slices.ContainsFunc(sets, func(k *jwks.KeySet) bool { return k.Loaded() && !k.Stale() })
}

// wait returns once every key set has stopped (after bg ends).
func (r *reloader) wait() { r.wg.Wait() }

// stopUnused stops the sets of old that are not in keep, and returns them.
func stopUnused(old, keep keyRing) []*running {
	var stopped []*running
	for _, k := range old {
		if !slices.Contains(keep, k) {
			k.stop()
			stopped = append(stopped, k)
		}
	}
	return stopped
}

// issuerSummary describes the issuers for the log: name, iss and JWKS address.
func issuerSummary(list []config.Issuer) []string {
	out := make([]string, len(list))
	for i, is := range list {
		out[i] = is.Name + " (iss " + is.Issuer + ", jwks " + is.JWKSURL + ")"
	}
	return out
}

func problemList(err error) []string {
	var out []string
	for _, p := range config.Problems(err) {
		out = append(out, p.Error())
	}
	return out
}
