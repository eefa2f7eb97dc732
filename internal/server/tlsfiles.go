package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// tlsMetrics receives the outcome of each load of the gRPC port's TLS files.
type tlsMetrics interface {
	TLSLoaded(err error, notAfter time.Time)
}

// tlsFiles serves the gRPC port's certificate, and for mTLS its client CAs, from files that
// may change at any time (a cert-manager Secret mounted as a volume).
//
// The files are looked at on each TLS handshake rather than watched: three stat calls per new
// connection (connections live minutes) are cheaper than a watcher goroutine, and there is no
// event to miss — a Secret volume's ..data symlink swap, a rename or an edit in place all show
// in the next handshake's stat, since stat follows symlinks. Files are re-read only when a
// stat differs (device and inode, size, modification time). A load that fails — a half-written
// file, a key that does not match the certificate, a CA file without a certificate — keeps the
// last good config, and is logged and counted once until the files change again. Connections
// already open keep the TLS session they were set up with.
type tlsFiles struct {
	cert, key, clientCA string
	log                 *slog.Logger
	metrics             tlsMetrics

	current atomic.Pointer[tlsState]
	mu      sync.Mutex // serialises reloads
}

// tlsState is one load attempt's outcome: the files' stats and the config in force after it.
type tlsState struct {
	stats  []os.FileInfo // nil entry: stat failed
	config *tls.Config   // the last good one
}

// newTLSFiles loads the files once: at start-up they must be valid.
func newTLSFiles(cert, key, clientCA string, log *slog.Logger, m tlsMetrics) (*tlsFiles, error) {
	if cert == "" || key == "" {
		return nil, errors.New("--grpc-tls-cert and --grpc-tls-key go together (and --grpc-client-ca needs both)")
	}
	t := &tlsFiles{cert: cert, key: key, clientCA: clientCA, log: log, metrics: m}
	stats := t.stat()
	cfg, notAfter, err := t.load()
	m.TLSLoaded(err, notAfter)
	if err != nil {
		return nil, err
	}
	t.current.Store(&tlsState{stats: stats, config: cfg})
	return t, nil
}

func (t *tlsFiles) paths() []string {
	if t.clientCA == "" {
		return []string{t.cert, t.key}
	}
	return []string{t.cert, t.key, t.clientCA}
}

func (t *tlsFiles) stat() []os.FileInfo {
	var out []os.FileInfo
	for _, p := range t.paths() {
		fi, _ := os.Stat(p)
		out = append(out, fi)
	}
	return out
}

func sameStats(a, b []os.FileInfo) bool {
	for i := range a {
		if a[i] == nil || b[i] == nil {
			if a[i] != b[i] {
				return false
			}
			continue
		}
		if !os.SameFile(a[i], b[i]) || a[i].Size() != b[i].Size() || !a[i].ModTime().Equal(b[i].ModTime()) {
			return false
		}
	}
	return true
}

// serverConfig is the tls.Config for the gRPC server: each handshake gets the config of the
// files as they are then.
func (t *tlsFiles) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return t.configNow(), nil },
	}
}

// configNow returns the config for a handshake starting now, reloading the files first if
// they have changed since the last attempt.
func (t *tlsFiles) configNow() *tls.Config {
	stats := t.stat()
	cur := t.current.Load()
	if sameStats(cur.stats, stats) {
		return cur.config
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cur = t.current.Load()
	if sameStats(cur.stats, stats) { // another handshake reloaded them meanwhile
		return cur.config
	}
	cfg, notAfter, err := t.load()
	t.metrics.TLSLoaded(err, notAfter)
	if err != nil {
		t.log.Error("gRPC TLS files refused; the last good certificate stays in force", "cert", t.cert, "key", t.key, "client_ca", t.clientCA, "error", err.Error())
		t.current.Store(&tlsState{stats: stats, config: cur.config})
		return cur.config
	}
	t.log.Info("gRPC TLS files reloaded", "cert", t.cert, "client_ca", t.clientCA, "not_after", notAfter.UTC().Format(time.RFC3339))
	t.current.Store(&tlsState{stats: stats, config: cfg})
	return cfg
}

// load reads the files into a server config.
func (t *tlsFiles) load() (*tls.Config, time.Time, error) {
	pair, err := tls.LoadX509KeyPair(t.cert, t.key)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("--grpc-tls-cert/--grpc-tls-key: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if t.clientCA != "" {
		pem, err := os.ReadFile(t.clientCA)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("--grpc-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, time.Time{}, fmt.Errorf("--grpc-client-ca %s: no PEM certificate in it", t.clientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, pair.Leaf.NotAfter, nil
}
