package server

import (
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/betterauthz/betterauthz/authz/extauthz"
)

// Connection management of the gRPC port, the same for every deployment.
const (
	// maxConcurrentStreams bounds the checks in flight on one connection. Each is a goroutine
	// holding its CheckRequest (up to --grpc-max-request-bytes), so without a bound one client
	// could make a replica hold any number of them; Envoy opens another connection when it
	// reaches the bound (which the Service may send to another replica). A check takes
	// microseconds, so 1000 at once on one connection is far above a healthy Envoy's need.
	maxConcurrentStreams = 1000
	// keepaliveMinTime is the shortest interval between a client's keepalive pings the server
	// accepts; a client pinging faster is sent GOAWAY (too_many_pings). gRPC's default, 5 min,
	// would refuse Envoy's and Istio's usual connection_keepalive intervals (tens of seconds).
	keepaliveMinTime = 5 * time.Second
	// keepaliveTime: a connection idle this long is pinged, so that one whose client vanished
	// (its node gone without a FIN) is closed after keepaliveTimeout.
	keepaliveTime    = time.Minute
	keepaliveTimeout = 20 * time.Second
	// streamWorkers is how many goroutines answer checks, each one check after another. Without
	// them gRPC starts a goroutine per check, whose stack then grows (and is copied) two or
	// three times on the way through gRPC's reader and the decision: a tenth of a cache hit's
	// CPU. A worker's stack grows once, and gRPC replaces the worker after 65,536 checks. When
	// every worker is busy (a check waiting on Better Auth), gRPC starts a goroutine for the
	// next check as before, so a slow check never holds up another.
	streamWorkers = 64
)

// newGRPCServer builds the ext_authz gRPC server: the receive limit and codec extauthz needs,
// connection ageing, keepalive enforcement, the stream bound and, when configured, TLS.
func (a *app) newGRPCServer() (*grpc.Server, error) {
	opts := extauthz.ServerOptions(a.o.GRPCMaxRequestBytes)
	params := keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}
	if a.o.GRPCMaxConnectionAge > 0 { // negative: connections are never aged
		params.MaxConnectionAge = a.o.GRPCMaxConnectionAge // gRPC adds ±10 % jitter
		params.MaxConnectionAgeGrace = a.o.GRPCMaxConnectionAgeGrace
	}
	opts = append(opts,
		grpc.KeepaliveParams(params),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveMinTime, PermitWithoutStream: true}),
		grpc.MaxConcurrentStreams(maxConcurrentStreams),
	)
	opts = append(opts, grpc.NumStreamWorkers(streamWorkers))
	if a.o.GRPCTLSCert != "" || a.o.GRPCTLSKey != "" || a.o.GRPCClientCA != "" {
		files, err := newTLSFiles(a.o.GRPCTLSCert, a.o.GRPCTLSKey, a.o.GRPCClientCA, a.log, a.tlsMetrics())
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(files.serverConfig())))
		a.log.Info("gRPC TLS on", "cert", a.o.GRPCTLSCert, "client_ca", a.o.GRPCClientCA, "mtls", a.o.GRPCClientCA != "")
	}
	return grpc.NewServer(opts...), nil
}

func checkConnectionAge(o *Options) error {
	if o.GRPCMaxConnectionAgeGrace < 0 {
		return fmt.Errorf("--grpc-max-connection-age-grace %s: must not be negative", o.GRPCMaxConnectionAgeGrace)
	}
	return nil
}
