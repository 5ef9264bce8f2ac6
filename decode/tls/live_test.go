package tls

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	stdtls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/export/synth"
)

// serverName is the SNI every test client sends.
const serverName = "tapview.test"

// testCerts holds a self-signed ECDSA and RSA certificate for serverName.
type testCerts struct {
	ecdsa, rsa stdtls.Certificate
	pool       *x509.CertPool
}

func newTestCerts(t testing.TB) *testCerts {
	t.Helper()
	c := &testCerts{pool: x509.NewCertPool()}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	c.ecdsa = selfSigned(t, c.pool, ek, &ek.PublicKey, 1)
	c.rsa = selfSigned(t, c.pool, rk, &rk.PublicKey, 2)
	return c
}

func selfSigned(t testing.TB, pool *x509.CertPool, key, pub any, serial int64) stdtls.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: serverName},
		DNSNames:     []string{serverName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool.AddCert(cert)
	return stdtls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
}

// bigBody is a deterministic body large enough to span many records.
func bigBody() []byte {
	b := make([]byte, 300<<10)
	for i := range b {
		b[i] = byte('a' + i%26)
		if i%64 == 63 {
			b[i] = '\n'
		}
	}
	return b
}

// testHandler serves the requests every session makes.
func testHandler() http.Handler {
	big := bigBody()
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello over tls\n")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		// HTTP/1 servers cannot read a body after writing: read it first.
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(big)
	})
	return mux
}

// testRequest is one request of a session and the response body it gets.
type testRequest struct {
	method, path string
	body         []byte
	want         []byte
}

func sessionRequests() []testRequest {
	echo := bytes.Repeat([]byte("0123456789abcdef"), 5000/16)
	return []testRequest{
		{"GET", "/small", nil, []byte("hello over tls\n")},
		{"POST", "/echo", echo, echo},
		{"GET", "/big", nil, bigBody()},
	}
}

// startTLSServer runs testHandler over TLS with conf (certificates and
// protocol limits), speaking h2 when h2 is set.
func startTLSServer(t testing.TB, conf *stdtls.Config, h2 bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(testHandler())
	srv.EnableHTTP2 = h2
	srv.TLS = conf
	srv.Config.ErrorLog = nil
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// recordSession makes the session's requests with a real Go client over
// a recorded connection and returns the packets and the client's key log.
func recordSession(t testing.TB, srv *httptest.Server, certs *testCerts, cli *stdtls.Config, h2 bool) (*synth.Recording, []byte) {
	t.Helper()
	var keyLog bytes.Buffer
	cli = cli.Clone()
	cli.RootCAs = certs.pool
	cli.ServerName = serverName
	cli.KeyLogWriter = &keyLog
	rec := synth.NewRecording(synth.Options{})
	tr := &http.Transport{DialContext: rec.DialContext, TLSClientConfig: cli, ForceAttemptHTTP2: h2}
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	for _, r := range sessionRequests() {
		req, err := http.NewRequest(r.method, srv.URL+r.path, bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, r.want) {
			t.Fatalf("%s %s: client got %d bytes, %v", r.method, r.path, len(got), err)
		}
	}
	tr.CloseIdleConnections()
	return rec, keyLog.Bytes()
}

// wantSession are the facts a decoded session must show.
type wantSession struct {
	version, cipher, alpn, proto string
}

// checkSession decodes a recorded session with its key log and checks the
// flow's TLS facts and every exchange against what the client did.
func checkSession(t testing.TB, rec *synth.Recording, keyLog []byte, want wantSession) {
	t.Helper()
	keys := keylog.New()
	keys.AddText(keyLog)
	out := decodePackets(t, rec.Packets(), keys)
	flows := out.tcpFlows()
	if len(flows) != 1 {
		t.Fatalf("%d TCP flows, want 1", len(flows))
	}
	f := flows[0]
	if f.Proto != "tls" || f.TLS == nil {
		t.Fatalf("flow proto %q TLS %+v", f.Proto, f.TLS)
	}
	got := wantSession{f.TLS.Version, f.TLS.Cipher, f.TLS.ALPNChosen, want.proto}
	if got != want || !f.TLS.Decrypted || f.SNI != serverName {
		t.Errorf("flow TLS %+v SNI %q, want %+v decrypted", f.TLS, f.SNI, want)
	}
	if f.Error != "" {
		t.Errorf("flow error %q", f.Error)
	}
	if !bytes.Contains(keyLog, []byte(hexs(f.TLS.ClientRandom))) {
		t.Errorf("flow client random %x is not in the key log", f.TLS.ClientRandom)
	}
	checkExchanges(t, out.exchanges(), want.proto)
}

func checkExchanges(t testing.TB, ex []*decode.Exchange, proto string) {
	t.Helper()
	reqs := sessionRequests()
	if len(ex) != len(reqs) {
		for _, e := range ex {
			t.Logf("exchange %s %s %s %d %s %q", e.Proto, e.Method(), e.Path(), e.Status(), e.State, e.Error)
		}
		t.Fatalf("%d exchanges, want %d", len(ex), len(reqs))
	}
	for i, r := range reqs {
		e := ex[i]
		if e.Method() != r.method || e.Path() != r.path || e.Status() != 200 || e.State != decode.Complete || !e.TLS || e.SNI != serverName {
			t.Errorf("exchange %d: %s %s %s -> %d %s TLS %v SNI %q (%s) request %+v", i, e.Proto, e.Method(), e.Path(), e.Status(), e.State, e.TLS, e.SNI, e.Error, e.Request)
			continue
		}
		if !strings.HasPrefix(e.Proto, proto) {
			t.Errorf("exchange %d proto %q, want %s", i, e.Proto, proto)
		}
		if !bytes.Equal(e.Request.Body, r.body) && !(len(r.body) == 0 && len(e.Request.Body) == 0) {
			t.Errorf("exchange %d request body %d bytes, want %d", i, len(e.Request.Body), len(r.body))
		}
		if !bytes.Equal(e.Response.Body, r.want) {
			t.Errorf("exchange %d response body %d bytes, want %d equal bytes", i, len(e.Response.Body), len(r.want))
		}
	}
}

// TestGoSessions records real crypto/tls sessions (HTTP/1.1 and h2 by
// ALPN) for every suite Go can be made to negotiate, and checks that every
// exchange decrypts and decodes.
func TestGoSessions(t *testing.T) {
	certs := newTestCerts(t)
	type tc struct {
		name    string
		cert    stdtls.Certificate
		max     uint16
		min     uint16
		suite   uint16 // 0: Go's default choice
		chacha  bool   // TLS 1.3: make the client prefer ChaCha20
		version string
		cipher  string
	}
	cases := []tc{
		{"1.2 ECDHE-ECDSA-AES128-GCM", certs.ecdsa, stdtls.VersionTLS12, 0, stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, false, "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		{"1.2 ECDHE-RSA-AES128-GCM", certs.rsa, stdtls.VersionTLS12, 0, stdtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, false, "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		{"1.2 ECDHE-RSA-AES256-GCM-SHA384", certs.rsa, stdtls.VersionTLS12, 0, stdtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, false, "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
		{"1.2 ECDHE-ECDSA-AES256-GCM-SHA384", certs.ecdsa, stdtls.VersionTLS12, 0, stdtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, false, "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
		{"1.2 ECDHE-RSA-CHACHA20", certs.rsa, stdtls.VersionTLS12, 0, stdtls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, false, "TLS 1.2", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
		{"1.2 ECDHE-ECDSA-CHACHA20", certs.ecdsa, stdtls.VersionTLS12, 0, stdtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, false, "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
		{"1.2 RSA-AES128-GCM", certs.rsa, stdtls.VersionTLS12, 0, stdtls.TLS_RSA_WITH_AES_128_GCM_SHA256, false, "TLS 1.2", "TLS_RSA_WITH_AES_128_GCM_SHA256"},
		{"1.2 ECDHE-RSA-AES128-CBC-SHA", certs.rsa, stdtls.VersionTLS12, 0, stdtls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, false, "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
		{"1.2 ECDHE-ECDSA-AES256-CBC-SHA", certs.ecdsa, stdtls.VersionTLS12, 0, stdtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, false, "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
		{"1.2 ECDHE-RSA-AES128-CBC-SHA256", certs.rsa, stdtls.VersionTLS12, 0, stdtls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, false, "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"},
		{"1.2 ECDHE-RSA-3DES", certs.rsa, stdtls.VersionTLS12, 0, stdtls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, false, "TLS 1.2", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
		{"1.1 ECDHE-RSA-AES128-CBC-SHA", certs.rsa, stdtls.VersionTLS11, stdtls.VersionTLS10, stdtls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, false, "TLS 1.1", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
		{"1.0 ECDHE-RSA-AES256-CBC-SHA", certs.rsa, stdtls.VersionTLS10, stdtls.VersionTLS10, stdtls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, false, "TLS 1.0", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
		{"1.3 AES128-GCM", certs.ecdsa, stdtls.VersionTLS13, 0, 0, false, "TLS 1.3", "TLS_AES_128_GCM_SHA256"},
		{"1.3 CHACHA20", certs.ecdsa, stdtls.VersionTLS13, 0, 0, true, "TLS 1.3", "TLS_CHACHA20_POLY1305_SHA256"},
	}
	for _, c := range cases {
		for _, h2 := range []bool{false, true} {
			alpn, proto := "http/1.1", "http/1.1"
			if h2 {
				alpn, proto = "h2", "h2"
			}
			t.Run(fmt.Sprintf("%s %s", c.name, alpn), func(t *testing.T) {
				srvConf := &stdtls.Config{Certificates: []stdtls.Certificate{c.cert}, MaxVersion: c.max, MinVersion: c.min}
				cli := &stdtls.Config{MaxVersion: c.max, MinVersion: c.min}
				if c.suite != 0 {
					srvConf.CipherSuites = []uint16{c.suite}
					cli.CipherSuites = []uint16{c.suite}
				}
				cli.NextProtos = []string{alpn}
				if c.chacha {
					// Go's server picks ChaCha20 for TLS 1.3 when the
					// client's first offered suite is not AES-GCM.
					cli.MinVersion = stdtls.VersionTLS12
					cli.CipherSuites = []uint16{stdtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
				}
				if h2 && c.max < stdtls.VersionTLS12 {
					t.Skip("h2 needs TLS 1.2")
				}
				if h2 && c.max == stdtls.VersionTLS12 && !h2Suite(c.suite) {
					t.Skip("h2 forbids this suite (RFC 9113, appendix A)")
				}
				srv := startTLSServer(t, srvConf, h2)
				rec, kl := recordSession(t, srv, certs, cli, h2)
				checkSession(t, rec, kl, wantSession{c.version, c.cipher, alpn, proto})
			})
		}
	}
}

// h2Suite reports whether Go's HTTP/2 accepts a TLS 1.2 suite.
func h2Suite(id uint16) bool {
	s := suiteByID(id)
	return s != nil && (s.bulk == bulkGCM || s.bulk == bulkChaCha) && !strings.HasPrefix(s.name, "TLS_RSA_")
}

// TestAgainstTshark decrypts the same recordings with tshark (key log in
// a pcapng Decryption Secrets Block) and compares the request paths it
// finds with the decoder's.
func TestAgainstTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	certs := newTestCerts(t)
	for _, tc := range []struct {
		name  string
		max   uint16
		h2    bool
		field string
	}{
		{"TLS 1.2 http/1.1", stdtls.VersionTLS12, false, "http.request.uri"},
		{"TLS 1.3 h2", stdtls.VersionTLS13, true, "http2.headers.path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startTLSServer(t, &stdtls.Config{Certificates: []stdtls.Certificate{certs.rsa}, MaxVersion: tc.max}, tc.h2)
			rec, kl := recordSession(t, srv, certs, &stdtls.Config{MaxVersion: tc.max}, tc.h2)
			file := filepath.Join(t.TempDir(), "session.pcapng")
			f, err := os.Create(file)
			if err != nil {
				t.Fatal(err)
			}
			nw, err := pcapw.NewPcapng(f, pcapw.NgOptions{})
			if err == nil {
				err = nw.WriteTLSKeyLog(kl)
			}
			if err == nil {
				err = rec.Export(nw)
			}
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			port := srv.Listener.Addr().(*net.TCPAddr).Port
			out, err := exec.Command(tshark, "-n", "-r", file, "-d", fmt.Sprintf("tcp.port==%d,tls", port), "-Y", tc.field, "-T", "fields", "-e", tc.field).Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			var mine []string
			for _, e := range decodePackets(t, rec.Packets(), keylogFrom(kl)).exchanges() {
				mine = append(mine, e.Path())
			}
			theirs := strings.Fields(string(out))
			if strings.Join(mine, " ") != strings.Join(theirs, " ") || len(mine) != len(sessionRequests()) {
				t.Errorf("decoded paths %q, tshark %q", mine, theirs)
			}
		})
	}
}

// TestGoSessionWithoutKeys decodes a recorded session with an empty key
// store: the flow shows TLS with its SNI, not decrypted, no exchanges and
// no error.
func TestGoSessionWithoutKeys(t *testing.T) {
	certs := newTestCerts(t)
	srv := startTLSServer(t, &stdtls.Config{Certificates: []stdtls.Certificate{certs.ecdsa}}, true)
	rec, _ := recordSession(t, srv, certs, &stdtls.Config{}, true)
	out := decodePackets(t, rec.Packets(), keylog.New())
	f := out.tcpFlows()[0]
	if f.Proto != "tls" || f.TLS == nil || f.TLS.Decrypted || f.SNI != serverName || f.TLS.ALPNChosen != "" || f.Error != "" || len(out.ex) != 0 {
		t.Errorf("flow %q TLS %+v error %q, %d exchanges", f.Proto, f.TLS, f.Error, len(out.ex))
	}
}
