package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial int64 = 100

func newSerial() *big.Int { serial++; return big.NewInt(serial) }

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf's certificate and key PEM, and its serial number.
func (ca *testCA) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte, sn *big.Int) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sn = newSerial()
	tmpl := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(12 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), sn
}

// secretVolume lays files out as the kubelet mounts a Secret: each name is a symlink into
// ..data, itself a symlink to a timestamped directory that an update swaps atomically.
type secretVolume struct {
	dir string
	gen int
}

func (v *secretVolume) write(t *testing.T, files map[string][]byte) {
	t.Helper()
	v.gen++
	ts := fmt.Sprintf("..2026_01_01_00_00_%02d.%d", v.gen, v.gen)
	if err := os.Mkdir(filepath.Join(v.dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(v.dir, ts, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(v.dir, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			os.Symlink(filepath.Join("..data", name), link)
		}
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	os.Symlink(ts, tmp)
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

func (v *secretVolume) path(name string) string { return filepath.Join(v.dir, name) }

// tlsClient dials addr with TLS trusting ca, presenting clientCert (nil: none), and makes one
// check. It returns the serial number of the certificate the server presented.
func tlsClient(t *testing.T, addr string, ca []byte, clientCert *tls.Certificate) (*grpc.ClientConn, authv3.AuthorizationClient) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if clientCert != nil {
		cfg.Certificates = []tls.Certificate{*clientCert}
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, authv3.NewAuthorizationClient(conn)
}

// checkOnce makes one check and returns the serial of the server's certificate on that
// connection, or the error.
func checkOnce(client authv3.AuthorizationClient, token string) (*big.Int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var p peer.Peer
	resp, err := client.Check(ctx, checkRequest(token), grpc.Peer(&p))
	if err != nil {
		return nil, err
	}
	if codes.Code(resp.GetStatus().GetCode()) != codes.OK {
		return nil, fmt.Errorf("denied: %s", resp.GetStatus().GetMessage())
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return nil, fmt.Errorf("not a TLS connection: %T", p.AuthInfo)
	}
	return info.State.PeerCertificates[0].SerialNumber, nil
}

func keyPair(t *testing.T, certPEM, keyPEM []byte) *tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// TestGRPCTLS: the gRPC port with a certificate speaks TLS only; a rotated certificate (a
// Secret volume's ..data swap) is served to new connections while a connection opened before
// keeps working; a bad new file keeps the last good certificate, logged and counted.
func TestGRPCTLS(t *testing.T) {
	ca := newCA(t, "betterauthz test CA")
	vol := &secretVolume{dir: t.TempDir()}
	crt1, key1, sn1 := ca.issue(t, "betterauthz", x509.ExtKeyUsageServerAuth)
	vol.write(t, map[string][]byte{"tls.crt": crt1, "tls.key": key1})
	r := run(t, baseConfig(ba), func(o *server.Options) {
		o.GRPCTLSCert, o.GRPCTLSKey = vol.path("tls.crt"), vol.path("tls.key")
	})
	r.waitReady(t, 10*time.Second)
	m, _ := ba.Mint(betterauth.MintOptions{})

	_, old := tlsClient(t, r.grpcAddr, ca.pem, nil)
	if sn, err := checkOnce(old, m.Token); err != nil || sn.Cmp(sn1) != 0 {
		t.Fatalf("TLS check: serial %v, %v; want %v", sn, err, sn1)
	}
	if _, err := checkOnce(authv3.NewAuthorizationClient(r.conn), m.Token); err == nil {
		t.Fatal("a plaintext client was answered on the TLS port")
	}

	crt2, key2, sn2 := ca.issue(t, "betterauthz", x509.ExtKeyUsageServerAuth)
	vol.write(t, map[string][]byte{"tls.crt": crt2, "tls.key": key2})
	_, fresh := tlsClient(t, r.grpcAddr, ca.pem, nil)
	if sn, err := checkOnce(fresh, m.Token); err != nil || sn.Cmp(sn2) != 0 {
		t.Fatalf("new connection after the rotation: serial %v, %v; want the new %v", sn, err, sn2)
	}
	if sn, err := checkOnce(old, m.Token); err != nil || sn.Cmp(sn1) != 0 {
		t.Fatalf("the connection opened before the rotation: serial %v, %v; want it kept on %v", sn, err, sn1)
	}

	// A key that does not match the certificate (a half-done rotation): refused, the last good
	// pair stays.
	crt3, _, _ := ca.issue(t, "betterauthz", x509.ExtKeyUsageServerAuth)
	vol.write(t, map[string][]byte{"tls.crt": crt3, "tls.key": key2})
	_, after := tlsClient(t, r.grpcAddr, ca.pem, nil)
	if sn, err := checkOnce(after, m.Token); err != nil || sn.Cmp(sn2) != 0 {
		t.Fatalf("after a bad rotation: serial %v, %v; want the last good %v", sn, err, sn2)
	}
	if !strings.Contains(r.logs.String(), "gRPC TLS files refused; the last good certificate stays in force") {
		t.Errorf("the bad rotation was not logged:\n%s", r.logs.String())
	}
	_, metrics := r.get(t, "/metrics")
	for _, want := range []string{`betterauthz_grpc_tls_reloads_total{result="error"} 1`, `betterauthz_grpc_tls_reloads_total{result="success"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestGRPCMutualTLS: with --grpc-client-ca a client needs a certificate from that CA; one
// without a certificate or with one from another CA is refused.
func TestGRPCMutualTLS(t *testing.T) {
	ca, other := newCA(t, "betterauthz CA"), newCA(t, "someone else's CA")
	dir := t.TempDir()
	crt, key, _ := ca.issue(t, "betterauthz", x509.ExtKeyUsageServerAuth)
	for name, b := range map[string][]byte{"tls.crt": crt, "tls.key": key, "ca.crt": ca.pem} {
		os.WriteFile(filepath.Join(dir, name), b, 0o600)
	}
	r := run(t, baseConfig(ba), func(o *server.Options) {
		o.GRPCTLSCert, o.GRPCTLSKey, o.GRPCClientCA = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	})
	r.waitReady(t, 10*time.Second)
	m, _ := ba.Mint(betterauth.MintOptions{})

	envoyCrt, envoyKey, _ := ca.issue(t, "envoy", x509.ExtKeyUsageClientAuth)
	strangerCrt, strangerKey, _ := other.issue(t, "envoy", x509.ExtKeyUsageClientAuth)
	cases := map[string]struct {
		cert *tls.Certificate
		ok   bool
	}{
		"client certificate from the CA":     {keyPair(t, envoyCrt, envoyKey), true},
		"no client certificate":              {nil, false},
		"client certificate from another CA": {keyPair(t, strangerCrt, strangerKey), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, client := tlsClient(t, r.grpcAddr, ca.pem, tc.cert)
			_, err := checkOnce(client, m.Token)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("answered")
			}
		})
	}
}

// TestGRPCTLSRefusedAtStart: unusable TLS files stop start-up, naming the flag.
func TestGRPCTLSRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.pem"), []byte("not PEM"), 0o600)
	ca := newCA(t, "ca")
	crt, key, _ := ca.issue(t, "betterauthz", x509.ExtKeyUsageServerAuth)
	os.WriteFile(filepath.Join(dir, "tls.crt"), crt, 0o600)
	os.WriteFile(filepath.Join(dir, "tls.key"), key, 0o600)
	cases := map[string]struct {
		cert, key, ca, want string
	}{
		"cert without key":  {cert: "tls.crt", want: "--grpc-tls-cert and --grpc-tls-key go together"},
		"client CA alone":   {ca: "tls.crt", want: "--grpc-tls-cert and --grpc-tls-key go together"},
		"garbage cert":      {cert: "bad.pem", key: "tls.key", want: "--grpc-tls-cert/--grpc-tls-key"},
		"client CA not PEM": {cert: "tls.crt", key: "tls.key", ca: "bad.pem", want: "no PEM certificate"},
	}
	path := func(name string) string {
		if name == "" {
			return ""
		}
		return filepath.Join(dir, name)
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := server.Run(context.Background(), server.Options{
				GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Getenv: func(string) string { return "" },
				GRPCTLSCert: path(tc.cert), GRPCTLSKey: path(tc.key), GRPCClientCA: path(tc.ca),
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
