package cli

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// clientTLS are check's flags for a gRPC port with TLS (--grpc-tls-cert) or mTLS
// (--grpc-client-ca).
type clientTLS struct {
	on                        bool
	ca, cert, key, serverName string
}

func (c *clientTLS) flags(fs *flag.FlagSet) {
	fs.BoolVar(&c.on, "tls", false, "speak TLS to --addr (implied by the other --tls-* flags); without --tls-ca the system's CAs verify it")
	fs.StringVar(&c.ca, "tls-ca", "", "PEM file of the CAs that verify the server's certificate")
	fs.StringVar(&c.cert, "tls-cert", "", "PEM client certificate, for a server with --grpc-client-ca (mTLS)")
	fs.StringVar(&c.key, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&c.serverName, "tls-server-name", "", "name to verify the server's certificate against (default: the host of --addr)")
}

func (c *clientTLS) credentials() (credentials.TransportCredentials, error) {
	if !c.on && c.ca == "" && c.cert == "" && c.key == "" && c.serverName == "" {
		return insecure.NewCredentials(), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.serverName}
	if c.ca != "" {
		pem, err := os.ReadFile(c.ca)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", c.ca)
		}
	}
	if c.cert != "" || c.key != "" {
		pair, err := tls.LoadX509KeyPair(c.cert, c.key)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(cfg), nil
}
