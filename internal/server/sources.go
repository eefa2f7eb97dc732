package server

import (
	"fmt"
	"os"
)

// Config sources only produce documents; the reloader applies them.

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
type configMapSource struct{ r *reloader }

func (c configMapSource) ConfigMapChanged(data []byte) {
	c.r.send(document{source: sourceConfigMap, data: data})
}

func (c configMapSource) ConfigMapInvalid(err error) {
	c.r.send(sourceInvalid{source: sourceConfigMap, err: err})
}

func (c configMapSource) ConfigMapDeleted() { c.r.send(sourceDeleted{source: sourceConfigMap}) }

func (c configMapSource) ConfigMapSynced() { c.r.send(sourceSynced{}) }
