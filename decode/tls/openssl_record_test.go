package tls

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/tls/keylog"
)

// The captures under testdata/openssl were recorded by
// scripts/record-tls.sh: openssl s_client and s_server on a namespace's
// loopback, with the client's key log.

// tsharkRequests lists "stream uri" and "stream status" lines of the HTTP
// messages tshark decrypts in file with the key log keys.
func tsharkRequests(t *testing.T, file, keys string) []string {
	t.Helper()
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	out, err := exec.Command(bin, "-n", "-r", file, "-o", "tls.keylog_file:"+keys, "-Y", "http",
		"-T", "fields", "-e", "http.request.uri", "-e", "http.response.code").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "\t")
		if f[0] != "" {
			lines = append(lines, "GET "+f[0])
		}
		if len(f) > 1 && f[1] != "" {
			lines = append(lines, "status "+f[1])
		}
	}
	sort.Strings(lines)
	return lines
}

// recorded decodes one recorded session with its key log.
func recorded(t *testing.T, name string) (*collector, string, string) {
	out, file, keys, _ := recordedKeys(t, name)
	return out, file, keys
}

// recordedKeys is recorded that also returns the key store.
func recordedKeys(t *testing.T, name string) (*collector, string, string, *keylog.KeyLog) {
	t.Helper()
	file := filepath.Join("testdata", "openssl", name+".pcap")
	keys := filepath.Join("testdata", "openssl", name+".keys")
	text, err := os.ReadFile(keys)
	if err != nil {
		t.Fatal(err)
	}
	store := keylogFrom(text)
	return decodeFile(t, file, store), file, keys, store
}

// checkRecorded compares the decoded requests with tshark's and checks
// each exchange is complete with a 200 whose body says what the server
// was asked for. tshark lists only the responses it can delimit (the
// -WWW server's HTTP/1.0 answers end at the close, which tshark leaves
// unlisted), so responses are compared where tshark has them.
func checkRecorded(t *testing.T, name string, wantSuites []string, body func(path string) string) {
	t.Helper()
	out, file, keys := recorded(t, name)
	theirs := tsharkRequests(t, file, keys)
	var mine []string
	hasStatus := strings.Contains(strings.Join(theirs, "\n"), "status ")
	for _, e := range out.exchanges() {
		if e.Request == nil {
			continue
		}
		mine = append(mine, "GET "+e.Request.Target)
		if hasStatus && e.Response != nil {
			mine = append(mine, "status "+strconv.Itoa(e.Status()))
		}
		if e.Response == nil || e.Status() != 200 || !strings.Contains(string(e.Response.Body), body(e.Request.Target)) {
			t.Errorf("%s: %s answered %d %q", name, e.Request.Target, e.Status(), bodyOf(e.Response))
		}
	}
	sort.Strings(mine)
	if strings.Join(mine, "\n") != strings.Join(theirs, "\n") || len(theirs) == 0 {
		t.Errorf("%s: decoded\n%s\ntshark\n%s", name, strings.Join(mine, "\n"), strings.Join(theirs, "\n"))
	}
	var suites []string
	for _, f := range out.tcpFlows() {
		if f.TLS == nil || !f.TLS.Decrypted {
			t.Errorf("%s: flow %d not decrypted: %+v %q", name, f.ID, f.TLS, f.Error)
			continue
		}
		suites = append(suites, f.TLS.Cipher)
	}
	sort.Strings(suites)
	sort.Strings(wantSuites)
	if strings.Join(suites, " ") != strings.Join(wantSuites, " ") {
		t.Errorf("%s: suites %v, want %v", name, suites, wantSuites)
	}
}

// TestOpenSSLPSKChaCha: TLS 1.2 with the four PSK ChaCha20-Poly1305
// suites, keys from CLIENT_RANDOM lines.
func TestOpenSSLPSKChaCha(t *testing.T) {
	checkRecorded(t, "psk-chacha", []string{
		"TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
		"TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256", "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256",
	}, func(path string) string {
		return "psk suite " + strings.TrimSuffix(strings.TrimPrefix(path, "/"), ".txt")
	})
}

// TestOpenSSLRSAKeyLog: TLS 1.2 RSA key exchange with only "RSA" key log
// lines, with and without the extended master secret.
func TestOpenSSLRSAKeyLog(t *testing.T) {
	checkRecorded(t, "rsa", []string{"TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256"},
		func(path string) string {
			return "rsa key exchange, " + strings.TrimSuffix(strings.TrimPrefix(path, "/rsa-"), ".txt")
		})
	// The derived master secrets are in the store as CLIENT_RANDOM lines,
	// so an export embeds them.
	out, _, _, store := recordedKeys(t, "rsa")
	for _, f := range out.tcpFlows() {
		if lines := store.LinesFor(f.TLS.ClientRandom); len(lines) != 1 || !strings.HasPrefix(lines[0], "CLIENT_RANDOM ") {
			t.Errorf("flow %d: key lines %q", f.ID, lines)
		}
	}
}

// TestOpenSSLEarlyData: a TLS 1.3 resumption whose request is 0-RTT early
// data; it is decoded and paired with the response sent after the
// handshake, as tshark pairs them.
func TestOpenSSLEarlyData(t *testing.T) {
	checkRecorded(t, "early", []string{"TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"},
		func(string) string { return "answer to 0-RTT request" })
	out, _, _ := recorded(t, "early")
	for _, e := range out.exchanges() {
		if e.Request == nil || e.Response == nil || e.Request.Target != "/early.txt" {
			t.Errorf("exchange %+v: not the early request with its response", e)
		}
	}
}

func bodyOf(m *decode.Message) string {
	if m == nil {
		return ""
	}
	return string(m.Body)
}
