package server_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

func checkRequest(token string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "conn", Method: "GET", Host: "api.example.com", Path: "/api/things",
			Headers: map[string]string{"authorization": "Bearer " + token},
		}},
	}}
}

// TestConnectionAgeMovesSteadyLoadToNewConnections: a steady load of checks over one client
// connection (as Envoy keeps one) is moved onto new connections each time the server ages the
// old one out with a GOAWAY, and not one check fails on the way.
func TestConnectionAgeMovesSteadyLoadToNewConnections(t *testing.T) {
	r := run(t, baseConfig(ba), func(o *server.Options) {
		o.GRPCMaxConnectionAge = time.Second
		o.GRPCMaxConnectionAgeGrace = time.Second
		o.LogDecisions = server.LogDecisionsDeny
	})
	r.waitReady(t, 10*time.Second)
	m, err := ba.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// Every TCP connection the client opens goes through this dialer: conns counts them, and
	// each check is credited to the connection that was newest when it was answered.
	var conns atomic.Int32
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err == nil {
			conns.Add(1)
		}
		return c, err
	}
	conn, err := grpc.NewClient(r.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithContextDialer(dial))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)

	const workers = 4
	var mu sync.Mutex
	perConn := map[int32]int{}
	var failures []string
	var wg sync.WaitGroup
	stop := time.Now().Add(4500 * time.Millisecond)
	for range workers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := client.Check(ctx, checkRequest(m.Token))
				cancel()
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case codes.Code(resp.GetStatus().GetCode()) != codes.OK:
					failures = append(failures, "denied: "+resp.GetStatus().GetMessage())
				default:
					perConn[conns.Load()]++
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d checks failed while connections were aged out, first: %s", len(failures), failures[0])
	}
	n := conns.Load()
	t.Logf("%d connections; checks answered while each was the newest: %v", n, perConn)
	if n < 3 {
		t.Fatalf("%d connections in 4.5 s with a 1 s max connection age, want at least 3", n)
	}
	for i := int32(1); i <= 3; i++ {
		if perConn[i] == 0 {
			t.Errorf("no checks answered while connection %d was the newest: the load did not move", i)
		}
	}
}

// TestUnixSocket: the gRPC port on a Unix socket answers checks; a stale socket file left by a
// killed process is replaced, but never a file that is not a socket nor a socket still in use;
// a clean stop removes the socket.
func TestUnixSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "grpc.sock")

	// What a killed process leaves: a socket file nobody listens on.
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if fi, err := os.Lstat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("no stale socket to start from: %v", err)
	}

	r := run(t, baseConfig(ba), func(o *server.Options) { o.GRPCAddr = "unix://" + sock })
	r.waitReady(t, 10*time.Second)
	if r.grpcAddr != "unix://"+sock {
		t.Fatalf("listening on %s", r.grpcAddr)
	}
	fi, err := os.Lstat(sock)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket file %v (%v), want a socket with mode 0660", fi.Mode(), err)
	}
	m, _ := ba.Mint(betterauth.MintOptions{})
	if resp := r.check(t, bearer(m.Token)); codes.Code(resp.GetStatus().GetCode()) != codes.OK {
		t.Fatalf("check over the Unix socket: %v", resp)
	}

	t.Run("in use by another process", func(t *testing.T) {
		err := server.Run(context.Background(), server.Options{GRPCAddr: "unix://" + sock, HTTPAddr: "127.0.0.1:0", Getenv: func(string) string { return "" }})
		if err == nil || !strings.Contains(err.Error(), "another process is listening") {
			t.Fatalf("Run on a socket in use: %v", err)
		}
	})

	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket file still there after a clean stop: %v", err)
	}

	t.Run("not a socket", func(t *testing.T) {
		file := filepath.Join(dir, "precious.txt")
		os.WriteFile(file, []byte("keep me"), 0o600)
		err := server.Run(context.Background(), server.Options{GRPCAddr: "unix://" + file, HTTPAddr: "127.0.0.1:0", Getenv: func(string) string { return "" }})
		if err == nil || !strings.Contains(err.Error(), "is not a socket") {
			t.Fatalf("Run on a regular file: %v", err)
		}
		if b, _ := os.ReadFile(file); string(b) != "keep me" {
			t.Fatalf("the file was touched: %q", b)
		}
	})
}
