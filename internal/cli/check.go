package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
)

// kvFlag collects repeated key=value flags.
type kvFlag struct {
	keys, values []string
}

func (f *kvFlag) String() string { return strings.Join(f.keys, ",") }

func (f *kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not key=value", s)
	}
	f.keys, f.values = append(f.keys, k), append(f.values, v)
	return nil
}

// checkFlags are check's flags.
type checkFlags struct {
	addr, method, host, path, token, output string
	timeout                                 time.Duration
	headers, contexts                       kvFlag
	tls                                     clientTLS
}

// check sends one CheckRequest, as Envoy would, and prints the answer as Envoy would apply it.
// Exit code: 0 allowed, 1 denied, 2 usage or connection problem.
func check(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("betterauthz check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f checkFlags
	fs.StringVar(&f.addr, "addr", "localhost:9000", "betterauthz gRPC address: host:port, or unix:///path for a Unix socket")
	fs.StringVar(&f.method, "method", "GET", "request method")
	fs.StringVar(&f.host, "host", "localhost", "request host (:authority)")
	fs.StringVar(&f.path, "path", "/", "request path, query included")
	fs.StringVar(&f.token, "token", "", `bearer token to send as "Authorization: Bearer <token>"; "-" reads it from stdin`)
	fs.DurationVar(&f.timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	fs.StringVar(&f.output, "o", "text", "output: text (what Envoy would do) or json (the CheckResponse as protobuf JSON)")
	fs.Var(&f.headers, "header", "request header name=value (repeatable)")
	fs.Var(&f.contexts, "context", "route context_extensions key=value, as Envoy's per-route check_settings sends (repeatable)")
	f.tls.flags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: betterauthz check [flags]\n\nAsks a running betterauthz whether a request would pass. Exit code 0: allowed, 1: denied, 2: error.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, getenv, stdout); err != nil {
		return err
	}
	if f.output != "text" && f.output != "json" {
		return &ExitError{Code: 2, Err: fmt.Errorf("-o %q: want text or json", f.output)}
	}
	tok := f.token
	if tok == "-" {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return &ExitError{Code: 2, Err: fmt.Errorf("read token from stdin: %w", err)}
		}
		tok = strings.TrimSpace(line)
	}
	creds, err := f.tls.credentials()
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	conn, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return &ExitError{Code: 2, Err: fmt.Errorf("--addr %s: %w", f.addr, err)}
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(conn).Check(cctx, f.request(tok))
	if err != nil {
		return &ExitError{Code: 2, Err: fmt.Errorf("check %s: %w", f.addr, err)}
	}
	allowed := codes.Code(resp.GetStatus().GetCode()) == codes.OK
	if f.output == "json" {
		b, _ := protojson.MarshalOptions{Multiline: true}.Marshal(resp)
		fmt.Fprintln(stdout, string(b))
	} else {
		printResponse(stdout, resp)
	}
	if allowed {
		return nil
	}
	return &ExitError{Code: 1}
}

// request is the CheckRequest Envoy would send for the flags' request.
func (f *checkFlags) request(tok string) *authv3.CheckRequest {
	hdrs := map[string]string{}
	for i, k := range f.headers.keys {
		k = strings.ToLower(k)
		if prev, ok := hdrs[k]; ok {
			hdrs[k] = prev + "," + f.headers.values[i] // as Envoy joins repeated headers
		} else {
			hdrs[k] = f.headers.values[i]
		}
	}
	if tok != "" {
		hdrs["authorization"] = "Bearer " + tok
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "betterauthz-check-" + hex.EncodeToString(id), Method: strings.ToUpper(f.method),
			Host: f.host, Path: f.path, Headers: hdrs, Scheme: "http", Protocol: "HTTP/1.1",
		}},
	}}
	if len(f.contexts.keys) > 0 {
		req.Attributes.ContextExtensions = map[string]string{}
		for i, k := range f.contexts.keys {
			req.Attributes.ContextExtensions[k] = f.contexts.values[i]
		}
	}
	return req
}

// printResponse prints what Envoy would do with resp and reports whether it allows.
func printResponse(w io.Writer, resp *authv3.CheckResponse) bool {
	code := codes.Code(resp.GetStatus().GetCode())
	if code == codes.OK {
		fmt.Fprintln(w, "ALLOWED (gRPC OK): the request goes upstream")
		ok := resp.GetOkResponse()
		var set []string
		for _, h := range ok.GetHeaders() {
			set = append(set, fmt.Sprintf("  %s: %s  [%s]", h.GetHeader().GetKey(), h.GetHeader().GetValue(), h.GetAppendAction()))
		}
		sort.Strings(set)
		if len(set) > 0 {
			fmt.Fprintln(w, "headers set on the upstream request:")
			fmt.Fprintln(w, strings.Join(set, "\n"))
		}
		if rm := ok.GetHeadersToRemove(); len(rm) > 0 {
			fmt.Fprintln(w, "headers removed from the upstream request:")
			for _, h := range rm {
				fmt.Fprintf(w, "  %s\n", h)
			}
		}
		return true
	}
	d := resp.GetDeniedResponse()
	status := int(d.GetStatus().GetCode())
	if status == 0 {
		status = 403 // Envoy's default for a denial without a status
	}
	fmt.Fprintf(w, "DENIED %d (gRPC %s: %s)\n", status, code, resp.GetStatus().GetMessage())
	if len(d.GetHeaders()) > 0 {
		fmt.Fprintln(w, "response headers:")
		for _, h := range d.GetHeaders() {
			fmt.Fprintf(w, "  %s: %s\n", h.GetHeader().GetKey(), h.GetHeader().GetValue())
		}
	}
	if d.GetBody() != "" {
		fmt.Fprintf(w, "body: %s\n", d.GetBody())
	}
	return false
}

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
