package server

import (
	"context"
	"fmt"
	"os"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
)

// Config sources only produce documents, and with the key sets and the annotation watcher send
// them, as events, to the reloader's inbox; the reloader alone applies them.

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

// inbox is the reloader's queue of events, made before the sources that send to it.
type inbox struct {
	events chan any
	bg     context.Context // the process's background: sends stop when it ends
	done   chan struct{}   // closed when the reloader stops: later events are dropped
}

func newInbox(bg context.Context) *inbox {
	return &inbox{events: make(chan any, 16), bg: bg, done: make(chan struct{})}
}

// send queues an event. Once the reloader has stopped (the process is draining) it is dropped,
// so that a key set or an informer never waits on it.
func (in *inbox) send(e any) {
	select {
	case in.events <- e:
	case <-in.done:
	case <-in.bg.Done():
	}
}

// close drops every later event: the reloader has stopped.
func (in *inbox) close() { close(in.done) }

// defaultsDocument is the config when neither a file nor a ConfigMap is given: the defaults
// and $BETTER_AUTH_URL.
func defaultsDocument() document { return document{source: sourceDefaults} }

// fileDocument reads the config file.
func fileDocument(path string) (document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return document{}, fmt.Errorf("config: %w", err)
	}
	return document{source: sourceFile, data: data}, nil
}

// configMapSource turns the watched ConfigMap's events into reloader events.
type configMapSource struct{ in *inbox }

func (c configMapSource) ConfigMapChanged(data []byte) {
	c.in.send(document{source: sourceConfigMap, data: data})
}

func (c configMapSource) ConfigMapInvalid(err error) {
	c.in.send(sourceInvalid{source: sourceConfigMap, err: err})
}

func (c configMapSource) ConfigMapDeleted() { c.in.send(sourceDeleted{source: sourceConfigMap}) }

func (c configMapSource) ConfigMapSynced() { c.in.send(sourceSynced{}) }
