// Package faultjwks is a JWKS server under test control, for fault tests and the soak test
// (bench/soak). It stands in front of a real JWKS (Better Auth's /api/auth/jwks) and, mode by
// mode, answers as that JWKS would (Normal) or as a broken, slow, hostile or odd one would: an
// error status, a hang, a body dripped byte by byte, garbage, truncation, a 10 MiB document, a
// redirect to an attacker's key set, unusable or duplicate keys, a connection reset, an empty
// set.
//
// It listens on a loopback port over HTTP (Start) or over HTTPS with a private CA whose
// certificate it writes to a file (StartTLS), so the process under test can trust it through
// SSL_CERT_FILE without any test hook in the code.
//
//	fj, err := faultjwks.Start(ba.JWKSURL()) // ba: a betterauth.Server
//	...
//	defer fj.Close()
//	// point the client's jwksURL at fj.URL, then:
//	fj.Set(faultjwks.Hang)   // fetches from now on hang
//	fj.Set(faultjwks.Normal) // and now they are answered again
package faultjwks
