package server

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/metrics"
)

// reloader is the one place that applies config: sources send it documents, key sets their
// fetches, the annotation watcher its indexes, and it alone turns them into the Snapshot the
// authorizer decides with — published whole, so that requests never see half a config. A
// document that does not parse or validate is refused (logged with the keys that are wrong,
// counted) and the last good config stays in force; a config whose signing keys are at new
// JWKS addresses waits for them as package switchover says. Where documents come from is not
// its business; it only ranks the sources. Until the first config, every check answers 503.
type reloader struct {
	reloaderDeps
	// fatal receives a refused config when there is no good one to keep (a bad ConfigMap at
	// start-up stops the process, as a bad --config file does).
	fatal chan error

	bg context.Context // lifetime of key sets
	wg sync.WaitGroup  // running key sets

	// Owned by run.
	settings  *config.Settings
	digest    [32]byte // of the document in force
	source    string
	configMap bool       // a ConfigMap has supplied a config: files no longer apply
	ring      keyRing    // the key sets of the config in force, one per issuer
	pending   *candidate // a config waiting for the keys at its new JWKS addresses
	snapshot  authz.Snapshot
	// introspecting are the introspection clients in force, by resource.
	introspecting introspectors
}

// reloaderDeps are what the reloader works with, every one given at construction.
type reloaderDeps struct {
	log        *slog.Logger
	metrics    *metrics.Metrics
	getenv     func(string) string
	authorizer *authz.Authorizer
	// inbox brings the events it applies; inForce is where it shows other goroutines the
	// config in force.
	inbox   *inbox
	inForce *inForce
	// changed is told after each event: readiness re-evaluates.
	changed func()
	// annotations receives the annotations settings of each config put in force (the
	// annotation watcher's); nil without one.
	annotations func(config.Annotations)
	// configMapRefused is told when the ConfigMap's config is refused (a Kubernetes Event on
	// it); nil without a ConfigMap.
	configMapRefused func(error)
}

func newReloader(bg context.Context, d reloaderDeps) *reloader {
	if d.annotations == nil {
		d.annotations = func(config.Annotations) {}
	}
	if d.configMapRefused == nil {
		d.configMapRefused = func(error) {}
	}
	return &reloader{reloaderDeps: d, bg: bg, fatal: make(chan error, 1)}
}

// run applies events until ctx ends.
func (r *reloader) run(ctx context.Context) error {
	defer r.inbox.close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-r.inbox.events:
			r.handle(e)
		}
	}
}

func (r *reloader) handle(e any) {
	switch e := e.(type) {
	case document:
		if err := r.apply(e.source, e.data); err != nil && e.source == sourceConfigMap {
			r.configMapRefused(err)
			r.refusedConfigMap(err)
		}
	case sourceInvalid:
		r.metrics.ConfigLoaded(e.source, e.err, time.Now())
		r.log.Error("config refused; the last good config stays in force", "source", e.source, "problems", []string{e.err.Error()})
		r.configMapRefused(e.err)
		r.refusedConfigMap(e.err)
	case sourceDeleted:
		r.metrics.ConfigDeleted(e.source)
		r.log.Error("ConfigMap deleted: the last good config stays in force until it is recreated", "source", e.source)
	case keysFetched:
		r.keysFetched(e.keys)
	case objectsIndexed:
		r.snapshot.Objects = e.objects
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
	introspecting, err := r.introspectors(s)
	if err != nil {
		stopUnused(ring, r.ring)
		return err
	}
	v := verifiers{tokens: r.snapshot.Verifier, access: r.snapshot.AccessVerifier, cookies: r.snapshot.SessionVerifier, sessions: r.snapshot.Sessions,
		roles: r.snapshot.Roles, apiKeys: r.snapshot.APIKeys}
	if !slices.Equal(ring, r.ring) || !sameVerification(r.settings, s) {
		if v, err = newVerifiers(s, ring); err != nil {
			stopUnused(ring, r.ring)
			return err
		}
	}
	r.snapshot.Config = s.Compile()
	r.snapshot.Verifier, r.snapshot.AccessVerifier, r.snapshot.SessionVerifier, r.snapshot.Sessions = v.tokens, v.access, v.cookies, v.sessions
	r.snapshot.Roles, r.snapshot.APIKeys = v.roles, v.apiKeys
	r.snapshot.Introspectors, r.introspecting = introspecting.snapshot(), introspecting
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
	r.annotations(s.Annotations)
	return nil
}

// publish hands the authorizer a new Snapshot and other goroutines the new state. Before the
// first config there is nothing to decide with: checks keep answering 503.
func (r *reloader) publish() {
	r.inForce.p.Store(&state{settings: r.settings, objects: r.snapshot.Objects, keys: r.ring.sets(), verifier: r.snapshot.Verifier})
	if r.snapshot.Config == nil {
		return
	}
	snapshot := r.snapshot
	r.authorizer.Publish(&snapshot)
}

// wait returns once every key set has stopped (after bg ends).
func (r *reloader) wait() { r.wg.Wait() }

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
