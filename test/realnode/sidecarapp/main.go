// Command sidecarapp stands in for an application that runs betterauthz beside it, in its pod
// (manifests/sidecar), for the real-node tests. It answers on :8080 and asks betterauthz about
// every request, over the pod's loopback as a proxy in the pod would: /grpc/... through the
// ext_authz gRPC API (what the pod's Envoy or Istio sidecar calls; $AUTHZ_GRPC, default
// 127.0.0.1:9000, or a unix:// socket), anything else through the HTTP check endpoint (what
// nginx auth_request calls; $AUTHZ_HTTP, default 127.0.0.1:8082). Allowed: 200 with
// "hello <x-user-id>". Denied: betterauthz's status. /healthz answers 200 without asking.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func main() {
	grpcAddr := env("AUTHZ_GRPC", "127.0.0.1:9000")
	httpAddr := env("AUTHZ_HTTP", "127.0.0.1:8082")
	conn, err := grpc.NewClient(grpcTarget(grpcAddr), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	authz := authv3.NewAuthorizationClient(conn)
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		var (
			status int
			user   string
			err    error
		)
		if strings.HasPrefix(r.URL.Path, "/grpc/") {
			status, user, err = checkGRPC(ctx, authz, r)
		} else {
			status, user, err = checkHTTP(ctx, httpAddr, r)
		}
		if err != nil {
			http.Error(w, "betterauthz: "+err.Error(), http.StatusBadGateway)
			return
		}
		if status != http.StatusOK {
			http.Error(w, http.StatusText(status), status)
			return
		}
		fmt.Fprintf(w, "hello %s\n", user)
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// grpcTarget is a gRPC target for an address or a unix:///path socket.
func grpcTarget(addr string) string {
	if strings.HasPrefix(addr, "unix://") {
		return addr
	}
	return "passthrough:///" + addr
}

func checkGRPC(ctx context.Context, c authv3.AuthorizationClient, r *http.Request) (int, string, error) {
	headers := map[string]string{}
	if a := r.Header.Get("Authorization"); a != "" {
		headers["authorization"] = a
	}
	resp, err := c.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: r.Method, Host: r.Host, Path: r.URL.RequestURI(), Headers: headers, Scheme: "http", Protocol: "HTTP/1.1",
		}},
	}})
	if err != nil {
		return 0, "", err
	}
	if ok := resp.GetOkResponse(); ok != nil {
		return http.StatusOK, header(ok.GetHeaders(), "x-user-id"), nil
	}
	return int(resp.GetDeniedResponse().GetStatus().GetCode()), "", nil
}

func header(hs []*corev3.HeaderValueOption, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.GetHeader().GetKey(), name) {
			return h.GetHeader().GetValue()
		}
	}
	return ""
}

func checkHTTP(ctx context.Context, addr string, r *http.Request) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/check", nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("X-Forwarded-Method", r.Method)
	req.Header.Set("X-Forwarded-Host", r.Host)
	req.Header.Set("X-Forwarded-Uri", r.URL.RequestURI())
	if a := r.Header.Get("Authorization"); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("x-user-id"), nil
}
