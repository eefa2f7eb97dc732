package faultjwks

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
)

// reset takes the connection over and closes it with SO_LINGER 0: the kernel then sends a TCP
// RST instead of a FIN, and the client's read fails with "connection reset by peer" — what a
// crashing server or a load balancer dropping the backend looks like.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "faultjwks: cannot hijack the connection to reset it: "+err.Error(), http.StatusInternalServerError)
		return
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		// Under TLS, reset the TCP connection itself: closing the tls.Conn would first send a
		// close_notify alert, an orderly end.
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}

// discardLog keeps net/http's own complaints (a client that hung up on a hang, a reset) out of
// test output: they are what the modes are for.
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
