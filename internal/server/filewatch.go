package server

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

const (
	// watchSettle lets a burst of events (an editor's write+rename, kubelet's symlink swap)
	// finish before the file is read.
	watchSettle = 100 * time.Millisecond
	// watchPoll re-reads the file even without events, in case some were missed.
	watchPoll = 5 * time.Second
)

// watchFile calls changed with the file's new content whenever it changes, until ctx ends.
//
// It watches the file's directory, not the file: editors replace files by rename, and a
// Kubernetes ConfigMap volume updates by swapping the ..data symlink that config.yaml points
// through, neither of which a watch on the file itself survives. Reads follow symlinks. A file
// that disappears is reported once and the last content stays in force.
func watchFile(ctx context.Context, path string, initial []byte, log *slog.Logger, changed func([]byte)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(path)); err != nil {
		return err
	}
	last := initial
	missing := false
	check := func() {
		data, err := os.ReadFile(path)
		if err != nil {
			if !missing {
				log.Error("config file unreadable; the last good config stays in force", "path", path, "error", err.Error())
				missing = true
			}
			return
		}
		missing = false
		if bytes.Equal(data, last) {
			return
		}
		last = data
		log.Info("config file changed", "path", path)
		changed(data)
	}

	settle := time.NewTimer(time.Hour)
	settle.Stop()
	poll := time.NewTicker(watchPoll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-w.Events:
			if !ok {
				return nil
			}
			settle.Reset(watchSettle)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			log.Warn("config file watch error; polling continues", "path", path, "error", err.Error())
		case <-settle.C:
			check()
		case <-poll.C:
			check()
		}
	}
}
