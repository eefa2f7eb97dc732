package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // bench -profile
	"os"
	"os/signal"
	"syscall"

	"github.com/MicahParks/keyfunc/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// The yardsticks betterauthz is measured against, run as separate processes like betterauthz
// itself, on the same gRPC stack.

// floorServer answers every check OK without looking at it: the cost of Envoy's gRPC call
// alone, which no ext_authz server can go under.
type floorServer struct {
	authv3.UnimplementedAuthorizationServer
}

var okResponse = &authv3.CheckResponse{
	Status:       &status.Status{Code: int32(codes.OK)},
	HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
}

func (floorServer) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return okResponse, nil
}

// jwtOnlyServer verifies the bearer token with golang-jwt + keyfunc (their defaults) on every
// request and nothing else: the cost of verification done the obvious way.
type jwtOnlyServer struct {
	authv3.UnimplementedAuthorizationServer
	kf       keyfunc.Keyfunc
	issuer   string
	audience string
}

var deniedResponse = &authv3.CheckResponse{Status: &status.Status{Code: int32(codes.Unauthenticated)}}

func (s *jwtOnlyServer) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	auth := req.GetAttributes().GetRequest().GetHttp().GetHeaders()["authorization"]
	if len(auth) < 8 {
		return deniedResponse, nil
	}
	_, err := jwt.Parse(auth[7:], s.kf.Keyfunc, jwt.WithIssuer(s.issuer), jwt.WithAudience(s.audience), jwt.WithExpirationRequired())
	if err != nil {
		return deniedResponse, nil
	}
	return okResponse, nil
}

// serveYardstick runs "bench floor" or "bench jwtonly".
func serveYardstick(kind string, args []string) error {
	fs := flag.NewFlagSet(kind, flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "gRPC address")
	jwksURL := fs.String("jwks", "", "JWKS URL (jwtonly)")
	issuer := fs.String("issuer", "", "issuer (jwtonly)")
	audience := fs.String("audience", "", "audience (jwtonly)")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof here (bench -profile)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var srv authv3.AuthorizationServer
	switch kind {
	case "floor":
		srv = floorServer{}
	case "jwtonly":
		kf, err := keyfunc.NewDefaultCtx(ctx, []string{*jwksURL})
		if err != nil {
			return err
		}
		srv = &jwtOnlyServer{kf: kf, issuer: *issuer, audience: *audience}
	default:
		return fmt.Errorf("unknown server %q", kind)
	}
	if *pprofAddr != "" {
		go func() { _ = http.ListenAndServe(*pprofAddr, nil) }() //nolint:gosec // loopback, bench only
	}
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	g := grpc.NewServer()
	authv3.RegisterAuthorizationServer(g, srv)
	go func() {
		<-ctx.Done()
		g.Stop()
	}()
	fmt.Println(lis.Addr().String())
	if err := g.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}
