// Package tlstest writes a throw-away certificate authority with server and
// client certificates to a test's temporary directory, so TLS and
// mutual-TLS tests (agents, sink, watch service) run against real files
// and real handshakes without checked-in keys. It is the one test PKI of
// the sources.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI names the PEM files of one test CA.
type PKI struct {
	CA                    string
	ServerCert, ServerKey string
	ClientCert, ClientKey string
	// OtherClientCert/Key come from an unrelated CA: a server that
	// requires client certificates must refuse them.
	OtherClientCert, OtherClientKey string
	// ServerName is the DNS name in the server certificate.
	ServerName string
}

// New creates a CA, a server certificate for serverName plus 127.0.0.1 and
// ::1 (and any extra IPs), a client certificate, and a client certificate
// from an unrelated CA, in t.TempDir().
func New(t testing.TB, serverName string, ips ...net.IP) PKI {
	t.Helper()
	dir := t.TempDir()
	ca, caKey, caDER := newCA(t, "tapview test CA")
	other, otherKey, _ := newCA(t, "unrelated CA")
	p := PKI{CA: write(t, dir, "ca.pem", "CERTIFICATE", caDER), ServerName: serverName}
	allIPs := append([]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, ips...)
	p.ServerCert, p.ServerKey = leafFrom(t, dir, ca, caKey, 2, "server", x509.ExtKeyUsageServerAuth, []string{serverName}, allIPs)
	p.ClientCert, p.ClientKey = leafFrom(t, dir, ca, caKey, 3, "client", x509.ExtKeyUsageClientAuth, nil, nil)
	p.OtherClientCert, p.OtherClientKey = leafFrom(t, dir, other, otherKey, 4, "other-client", x509.ExtKeyUsageClientAuth, nil, nil)
	return p
}

// newCA makes a self-signed CA.
func newCA(t testing.TB, name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	caKey := key(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	return ca, caKey, caDER
}

// leafFrom writes a certificate signed by ca and its key.
func leafFrom(t testing.TB, dir string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, serial int64, cn string, usage x509.ExtKeyUsage, dns []string, ips []net.IP) (string, string) {
	t.Helper()
	k := key(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames: dns, IPAddresses: ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return write(t, dir, cn+".pem", "CERTIFICATE", der), write(t, dir, cn+"-key.pem", "EC PRIVATE KEY", kder)
}

func key(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func write(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
