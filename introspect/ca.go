package introspect

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
)

// ErrCAFile is the error of New when Options.CAFile cannot be used (missing, unreadable, no
// PEM certificate).
var ErrCAFile = errors.New("introspect: CA file unusable")

// maxCABytes bounds the CA file.
const maxCABytes = 1 << 20

// caClient is the HTTP client that trusts only the CAs of a PEM file, which may change at any
// time (a rotated cert-manager Secret). As the client secret's file, it is looked at before each
// call and re-read only when its stat differs; a re-read that fails keeps the last good client.
type caClient struct {
	path string
	base *http.Client

	mu     sync.Mutex
	stat   os.FileInfo
	client *http.Client
}

func newCAClient(path string, base *http.Client) (*caClient, error) {
	c := &caClient{path: path, base: base}
	if _, err := c.get(); err != nil {
		return nil, err
	}
	return c, nil
}

// get returns the client, rebuilt first when the file changed. With an error, it returns the
// last good client (nil before the first).
func (c *caClient) get() (*http.Client, error) {
	stat, err := os.Stat(c.path)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && c.stat != nil && sameStat(stat, c.stat) {
		return c.client, nil
	}
	if err != nil {
		return c.client, fmt.Errorf("%w: %w", ErrCAFile, err)
	}
	if stat.Size() > maxCABytes {
		return c.client, fmt.Errorf("%w: %s is larger than %d bytes", ErrCAFile, c.path, maxCABytes)
	}
	pemBytes, err := os.ReadFile(c.path)
	if err != nil {
		return c.client, fmt.Errorf("%w: %w", ErrCAFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return c.client, fmt.Errorf("%w: %s holds no PEM certificate", ErrCAFile, c.path)
	}
	base, _ := c.base.Transport.(*http.Transport)
	if base == nil {
		base, _ = http.DefaultTransport.(*http.Transport)
	}
	t := base.Clone()
	// Only these CAs: the point of a private CA is that no public one can vouch for Better Auth.
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	client := *c.base
	client.Transport = t
	c.stat, c.client = stat, &client
	return c.client, nil
}

// cleartext reports whether u is an http:// URL to a host other than the loopback: the client
// secret would cross the network in clear.
func cleartext(u string) bool {
	p, err := url.Parse(u)
	if err != nil || !strings.EqualFold(p.Scheme, "http") {
		return false
	}
	host := p.Hostname()
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
