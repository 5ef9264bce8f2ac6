package tls

import (
	"bufio"
	"bytes"
	"context"
	stdtls "crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/sources"
)

// These tests use the openssl command line tool as a second, independent
// TLS implementation: it negotiates what Go's crypto/tls will not (TLS 1.3
// AES-256-GCM, encrypt-then-MAC CBC, DHE) and sends KeyUpdate on demand.

func opensslPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	return p
}

// writePEM writes a certificate and its key for openssl s_server.
func writePEM(t *testing.T, c stdtls.Certificate) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// outputBuffer collects a process's output for waitFor.
type outputBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *outputBuffer) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *outputBuffer) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits until the output holds want n times.
func (o *outputBuffer) waitFor(t *testing.T, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(o.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q x%d in:\n%s", want, n, o.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startSServer runs openssl s_server on a loopback port and returns its
// address.
func startSServer(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(opensslPath(t), append([]string{"s_server", "-accept", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "ACCEPT "); ok {
			go io.Copy(io.Discard, stdout)
			return addr
		}
	}
	t.Fatal("openssl s_server did not start")
	return ""
}

// startProxy forwards loopback connections to target through a
// recording dialer, so an external client's session is recorded with the
// client on the client side.
func startProxy(t *testing.T, rec *synth.Recording, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := rec.DialContext(context.Background(), "tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			go pipe(out, in)
			go pipe(in, out)
		}
	}()
	return ln.Addr().String()
}

// pipe copies until EOF, then half-closes the destination.
func pipe(dst, src net.Conn) {
	io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		dst.Close()
	}
}

// decodeRecording decodes a recording with a key log, returning the
// collector and the parser for its counters.
func decodeRecording(t *testing.T, rec *synth.Recording, keyLog []byte) (*collector, *Parser) {
	t.Helper()
	keys := keylog.New()
	keys.AddText(keyLog)
	inner := innerParsers()
	p := New(keys, inner...)
	out := newCollector()
	dec := newDecoder(out, append([]decode.Parser{p}, inner...))
	pkts := rec.Packets()
	var last time.Time
	for i := range pkts {
		dec.Packet(&pkts[i])
		last = pkts[i].Timestamp
	}
	dec.Finish(last)
	return out, p
}

// TestOpenSSLServerTLS13AES256 covers TLS_AES_256_GCM_SHA384, which Go's
// server never picks, and an ALPN selected in a non-Go server's
// EncryptedExtensions.
func TestOpenSSLServerTLS13AES256(t *testing.T) {
	certs := newTestCerts(t)
	cf, kf := writePEM(t, certs.ecdsa)
	addr := startSServer(t, "-cert", cf, "-key", kf, "-www", "-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384", "-alpn", "http/1.1")
	var keyLog bytes.Buffer
	rec := synth.NewRecording(synth.Options{})
	tr := &http.Transport{DialContext: rec.DialContext, TLSClientConfig: &stdtls.Config{
		RootCAs: certs.pool, ServerName: serverName, KeyLogWriter: &keyLog, NextProtos: []string{"http/1.1"},
	}}
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	tr.CloseIdleConnections()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	out, _ := decodeRecording(t, rec, keyLog.Bytes())
	f := out.tcpFlows()[0]
	if f.TLS == nil || f.TLS.Cipher != "TLS_AES_256_GCM_SHA384" || f.TLS.Version != "TLS 1.3" || f.TLS.ALPNChosen != "http/1.1" || !f.TLS.Decrypted {
		t.Fatalf("flow TLS %+v", f.TLS)
	}
	ex := out.exchanges()
	if len(ex) != 1 || ex[0].Path() != "/" || ex[0].Status() != 200 || !ex[0].TLS || !bytes.Equal(ex[0].Response.Body, body) {
		t.Fatalf("exchanges %d, want GET / 200 with the %d-byte page", len(ex), len(body))
	}
}

// runSClient runs openssl s_client through a recording proxy to target,
// sends request and waits for the server to close.
func runSClient(t *testing.T, target, request string, args ...string) (*synth.Recording, []byte, string) {
	t.Helper()
	rec := synth.NewRecording(synth.Options{})
	proxy := startProxy(t, rec, target)
	kl := filepath.Join(t.TempDir(), "keys.log")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, opensslPath(t), append([]string{"s_client", "-connect", proxy, "-servername", serverName, "-keylogfile", kl, "-quiet"}, args...)...)
	cmd.Stdin = strings.NewReader(request)
	var out outputBuffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("s_client: %v\n%s", err, out.String())
	}
	keyLog, err := os.ReadFile(kl)
	if err != nil {
		t.Fatal(err)
	}
	waitClosed(rec)
	return rec, keyLog, out.String()
}

// waitClosed gives the proxy a moment to record both FINs.
func waitClosed(rec *synth.Recording) {
	for i := 0; i < 100; i++ {
		n := 0
		for _, p := range rec.Packets() {
			if isFin(p) {
				n++
			}
		}
		if n >= 2 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// isFin reports whether an Ethernet/IPv4/TCP packet has FIN set.
func isFin(p sources.Packet) bool {
	d := p.Data
	if len(d) < 14+20+20 || d[12] != 8 || d[13] != 0 {
		return false
	}
	ihl := int(d[14]&0x0f) * 4
	return len(d) > 14+ihl+13 && d[14+ihl+13]&1 != 0
}

// TestOpenSSLBoth records openssl s_client talking to openssl s_server
// with suites Go does not speak: CBC with encrypt-then-MAC (RFC 7366,
// which OpenSSL negotiates by default) and DHE key exchange.
func TestOpenSSLBoth(t *testing.T) {
	certs := newTestCerts(t)
	cases := []struct {
		name, cipher, want string
		cert               stdtls.Certificate
		etm                bool
	}{
		{"ECDHE-ECDSA-AES128-SHA etm", "ECDHE-ECDSA-AES128-SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", certs.ecdsa, true},
		{"ECDHE-RSA-AES256-SHA384 etm", "ECDHE-RSA-AES256-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", certs.rsa, true},
		{"DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-AES256-GCM-SHA384", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", certs.rsa, false},
		{"DHE-RSA-CHACHA20-POLY1305", "DHE-RSA-CHACHA20-POLY1305", "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", certs.rsa, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cf, kf := writePEM(t, tc.cert)
			addr := startSServer(t, "-cert", cf, "-key", kf, "-www", "-tls1_2", "-cipher", tc.cipher)
			rec, keyLog, page := runSClient(t, addr, "GET / HTTP/1.0\r\n\r\n", "-tls1_2", "-cipher", tc.cipher)
			if !strings.HasPrefix(page, "HTTP/1.0 200") {
				t.Fatalf("s_client got %q", page)
			}
			if sh := recordedServerHello(t, rec); sh.encThenMAC != tc.etm {
				t.Errorf("encrypt-then-MAC negotiated %v, want %v", sh.encThenMAC, tc.etm)
			}
			out, _ := decodeRecording(t, rec, keyLog)
			f := out.tcpFlows()[0]
			if f.TLS == nil || f.TLS.Cipher != tc.want || !f.TLS.Decrypted || f.Error != "" {
				t.Fatalf("flow TLS %+v error %q", f.TLS, f.Error)
			}
			ex := out.exchanges()
			_, body, _ := strings.Cut(page, "\r\n\r\n")
			if len(ex) != 1 || ex[0].Path() != "/" || ex[0].Status() != 200 || !ex[0].TLS || string(ex[0].Response.Body) != body {
				t.Fatalf("%d exchanges, want GET / 200 with the %d-byte page", len(ex), len(body))
			}
		})
	}
}

// recordedServerHello finds and parses the ServerHello of a recording.
func recordedServerHello(t *testing.T, rec *synth.Recording) *serverHello {
	t.Helper()
	for _, p := range rec.Packets() {
		i := bytes.Index(p.Data, []byte{ctHandshake, 3, 3})
		if i < 0 || len(p.Data) < i+9 || p.Data[i+5] != hsServerHello {
			continue
		}
		n := int(p.Data[i+6])<<16 | int(p.Data[i+7])<<8 | int(p.Data[i+8])
		if len(p.Data) < i+9+n {
			continue
		}
		sh, err := parseServerHello(p.Data[i+9 : i+9+n])
		if err != nil {
			t.Fatal(err)
		}
		return sh
	}
	t.Fatal("no ServerHello recorded")
	return nil
}

// TestKeyUpdate records openssl s_client asking for key updates in the
// middle of a TLS 1.3 session with a Go HTTP server: "K" updates the
// client's keys and requests the server's (Go answers with its own
// KeyUpdate), "k" updates only the client's. Every request before and
// after must decrypt.
func TestKeyUpdate(t *testing.T) {
	certs := newTestCerts(t)
	var keyLog outputBuffer
	srv := startTLSServer(t, &stdtls.Config{Certificates: []stdtls.Certificate{certs.ecdsa}, KeyLogWriter: &keyLog, MinVersion: stdtls.VersionTLS13}, false)
	rec := synth.NewRecording(synth.Options{})
	proxy := startProxy(t, rec, srv.Listener.Addr().String())
	cmd := exec.Command(opensslPath(t), "s_client", "-connect", proxy, "-servername", serverName, "-tls1_3")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out outputBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	out.waitFor(t, "Verify return code", 1)
	get := "GET /small HTTP/1.1\r\nHost: " + serverName + "\r\n\r\n"
	steps := []struct{ send, wait string }{
		{get, "hello over tls"},
		{"K\n", "KEYUPDATE"},
		{get, "hello over tls"},
		{"k\n", "KEYUPDATE"},
		{"POST /echo HTTP/1.1\r\nHost: " + serverName + "\r\nContent-Length: 11\r\n\r\nafter-2-kus", "after-2-kus"},
	}
	seen := map[string]int{}
	for _, s := range steps {
		io.WriteString(stdin, s.send)
		seen[s.wait]++
		out.waitFor(t, s.wait, seen[s.wait])
		time.Sleep(50 * time.Millisecond) // one stdin read per step
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Logf("s_client: %v", err)
	}
	waitClosed(rec)

	got, p := decodeRecording(t, rec, []byte(keyLog.String()))
	f := got.tcpFlows()[0]
	if f.TLS == nil || !f.TLS.Decrypted || f.TLS.Version != "TLS 1.3" || f.Error != "" {
		t.Fatalf("flow TLS %+v error %q", f.TLS, f.Error)
	}
	if st := p.Stats(); st.KeyUpdates != 3 || st.Failures != 0 {
		t.Errorf("stats %+v, want 3 key updates (client twice, server once) and no failures", st)
	}
	ex := got.exchanges()
	want := []struct{ method, path, body string }{
		{"GET", "/small", "hello over tls\n"},
		{"GET", "/small", "hello over tls\n"},
		{"POST", "/echo", "after-2-kus"},
	}
	if len(ex) != len(want) {
		t.Fatalf("%d exchanges, want %d", len(ex), len(want))
	}
	for i, w := range want {
		e := ex[i]
		if e.Method() != w.method || e.Path() != w.path || e.Status() != 200 || string(e.Response.Body) != w.body || !e.TLS {
			t.Errorf("exchange %d: %s %s -> %d %q", i, e.Method(), e.Path(), e.Status(), e.Response.Body)
		}
	}
}
