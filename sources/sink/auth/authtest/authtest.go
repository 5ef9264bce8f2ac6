// Package authtest gives the sink's TLS and mTLS tests their certificate
// files in the shape those tests use, from the sources' one test PKI
// (sources/internal/tlstest).
package authtest

import (
	"testing"

	"github.com/tapview/tapview/sources/internal/tlstest"
)

// Files are the PEM files written by New.
type Files struct {
	CA                    string // CA certificate (trusted by both sides)
	ServerCert, ServerKey string
	ClientCert, ClientKey string
	// OtherCA is a CA that signed nothing the server trusts; a client
	// certificate from it must be refused.
	OtherClientCert, OtherClientKey string
}

// New writes the files (server certificate for localhost, 127.0.0.1 and
// ::1) into a test temporary directory.
func New(t testing.TB) Files {
	t.Helper()
	p := tlstest.New(t, "localhost")
	return Files{
		CA: p.CA, ServerCert: p.ServerCert, ServerKey: p.ServerKey,
		ClientCert: p.ClientCert, ClientKey: p.ClientKey,
		OtherClientCert: p.OtherClientCert, OtherClientKey: p.OtherClientKey,
	}
}
