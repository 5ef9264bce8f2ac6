package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	pcap "github.com/tapview/tapview/proto/pcap"
)

// agentPKI is a throw-away CA with a server certificate for 127.0.0.1 and
// one client certificate, written as PEM files.
type agentPKI struct{ ca, serverCert, serverKey, clientCert, clientKey string }

func newAgentPKI(t *testing.T) agentPKI {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "agent test CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, usage x509.ExtKeyUsage, name string) (string, string) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-time.Hour),
			NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name+".crt", "CERTIFICATE", der), write(name+".key", "EC PRIVATE KEY", kd)
	}
	p := agentPKI{ca: write("ca.crt", "CERTIFICATE", caDER)}
	p.serverCert, p.serverKey = leaf(2, x509.ExtKeyUsageServerAuth, "server")
	p.clientCert, p.clientKey = leaf(3, x509.ExtKeyUsageClientAuth, "client")
	return p
}

// syncBuffer is a bytes.Buffer the agent's logger and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listeningRE = regexp.MustCompile(`"agent listening" addr=(\S+)`)

// startAgent runs `tapview agent args...` until the test ends and returns
// the addresses it logged as listening, or the error it exited with.
func startAgent(t *testing.T, args ...string) ([]string, string, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"agent"}, args...))
	cmd.SetOut(&stderr)
	cmd.SetErr(&stderr)
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("agent did not stop")
		}
	})
	deadline := time.After(5 * time.Second)
	for {
		select {
		case err := <-done:
			done <- err
			return nil, stderr.String(), err
		case <-deadline:
			t.Fatalf("agent %v did not log listening:\n%s", args, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if m := listeningRE.FindAllStringSubmatch(stderr.String(), -1); len(m) == countListen(args) {
			var addrs []string
			for _, x := range m {
				addrs = append(addrs, x[1])
			}
			return addrs, stderr.String(), nil
		}
	}
}

func countListen(args []string) int {
	n := 0
	for _, a := range args {
		if strings.HasPrefix(a, "--listen") {
			n++
		}
	}
	return max(n, 1)
}

// agentStatus calls pcap.Agent/Status on addr (dialled on 127.0.0.1) with
// a real grpc-go client.
func agentStatus(t *testing.T, addr string, creds credentials.TransportCredentials) error {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("127.0.0.1:"+port, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = pcap.NewAgentClient(conn).Status(ctx, &pcap.StatusRequest{})
	return err
}

func clientTLS(t *testing.T, p agentPKI, withCert bool) credentials.TransportCredentials {
	t.Helper()
	pem, err := os.ReadFile(p.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if withCert {
		c, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return credentials.NewTLS(cfg)
}

// TestAgentDefaultsToLoopback: with no --listen the agent binds
// 127.0.0.1:9494, and --plaintext on loopback serves real clients.
func TestAgentDefaultsToLoopback(t *testing.T) {
	if def := newAgentCmd().Flags().Lookup("listen").DefValue; def != "[127.0.0.1:9494]" {
		t.Errorf("--listen defaults to %s, want [127.0.0.1:9494]", def)
	}
	addrs, log, err := startAgent(t, "--plaintext", "--listen", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("plaintext on loopback refused: %v\n%s", err, log)
	}
	if err := agentStatus(t, addrs[0], insecure.NewCredentials()); err != nil {
		t.Errorf("Status over loopback plaintext: %v", err)
	}
}

// TestAgentRefusesOpenConfigurations: TLS without a client CA and
// plaintext beyond loopback are refused with an error naming the risk
// and the flag that accepts it.
func TestAgentRefusesOpenConfigurations(t *testing.T) {
	p := newAgentPKI(t)
	for name, tc := range map[string]struct {
		args []string
		want []string
	}{
		"TLS without client CA": {[]string{"--listen", "127.0.0.1:0", "--cert", p.serverCert, "--key", p.serverKey},
			[]string{"--client-ca", "--insecure-any-client", "any client"}},
		"plaintext on all interfaces": {[]string{"--plaintext", "--listen", ":0"},
			[]string{"--insecure-plaintext-remote", "127.0.0.1", "capture this host"}},
		"plaintext on 0.0.0.0 after loopback": {[]string{"--plaintext", "--listen", "127.0.0.1:0", "--listen", "0.0.0.0:0"},
			[]string{"--insecure-plaintext-remote", "0.0.0.0:0"}},
		"insecure-any-client with plaintext": {[]string{"--plaintext", "--insecure-any-client", "--listen", "127.0.0.1:0"},
			[]string{"--client-ca"}},
	} {
		t.Run(name, func(t *testing.T) {
			addrs, log, err := startAgent(t, tc.args...)
			if err == nil {
				t.Fatalf("agent %v served on %v", tc.args, addrs)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(log, "agent listening") {
				t.Errorf("agent logged listening before refusing:\n%s", log)
			}
		})
	}
}

// TestAgentExplicitRisks: the --insecure flags make the agent serve (with
// a warning in its log), and mutual TLS refuses a client without a
// certificate while serving one with.
func TestAgentExplicitRisks(t *testing.T) {
	p := newAgentPKI(t)

	addrs, log, err := startAgent(t, "--plaintext", "--insecure-plaintext-remote", "--listen", "0.0.0.0:0")
	if err != nil {
		t.Fatalf("--insecure-plaintext-remote refused: %v\n%s", err, log)
	}
	if !strings.Contains(log, "level=WARN") || !strings.Contains(log, "--insecure-plaintext-remote") {
		t.Errorf("no warning for plaintext beyond loopback:\n%s", log)
	}
	if err := agentStatus(t, addrs[0], insecure.NewCredentials()); err != nil {
		t.Errorf("Status: %v", err)
	}

	addrs, log, err = startAgent(t, "--listen", "127.0.0.1:0", "--cert", p.serverCert, "--key", p.serverKey, "--insecure-any-client")
	if err != nil {
		t.Fatalf("--insecure-any-client refused: %v\n%s", err, log)
	}
	if !strings.Contains(log, "--insecure-any-client") {
		t.Errorf("no warning for TLS without client certificates:\n%s", log)
	}
	if err := agentStatus(t, addrs[0], clientTLS(t, p, false)); err != nil {
		t.Errorf("TLS client without certificate on --insecure-any-client: %v", err)
	}

	addrs, log, err = startAgent(t, "--listen", "127.0.0.1:0", "--cert", p.serverCert, "--key", p.serverKey, "--client-ca", p.ca)
	if err != nil {
		t.Fatalf("mutual TLS refused: %v\n%s", err, log)
	}
	if err := agentStatus(t, addrs[0], clientTLS(t, p, false)); err == nil {
		t.Error("mutual TLS served a client without a certificate")
	}
	if err := agentStatus(t, addrs[0], clientTLS(t, p, true)); err != nil {
		t.Errorf("mutual TLS client with a certificate: %v", err)
	}
}

// TestAgentConnectionLimits: one address gets agentConnsPerIP
// connections and the rest are closed on arrival, while a client from
// another address is still served.
func TestAgentConnectionLimits(t *testing.T) {
	addrs, log, err := startAgent(t, "--plaintext", "--listen", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("agent: %v\n%s", err, log)
	}
	attacker := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 2 * time.Second}
	var conns []net.Conn
	closed := 0
	for range agentConnsPerIP + 4 {
		c, err := attacker.Dial("tcp", addrs[0])
		switch {
		case err != nil && strings.Contains(err.Error(), "assign requested address"):
			t.Skip("cannot bind 127.0.0.2 as a source address on this host")
		case err != nil && strings.Contains(err.Error(), "reset by peer"):
			closed++ // refused before connect returned
		case err != nil:
			t.Fatal(err)
		default:
			defer c.Close()
			conns = append(conns, c)
		}
	}
	for _, c := range conns {
		// The server's SETTINGS frame may come first; closed is EOF or
		// a reset, open is a read that times out.
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, err := io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			closed++
		}
	}
	if closed != 4 {
		t.Errorf("%d of %d connections from one address closed, want the 4 over %d", closed, agentConnsPerIP+4, agentConnsPerIP)
	}
	if err := agentStatus(t, addrs[0], insecure.NewCredentials()); err != nil {
		t.Errorf("Status from another address while one is at its limit: %v", err)
	}
}
