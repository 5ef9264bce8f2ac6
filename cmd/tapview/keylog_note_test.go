package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeylogNote: --keylog says how many lines it used, per label, and
// warns, naming the cause and the next step, when the file holds no key
// log line (issue 20 item 7); sessions and export alike.
func TestKeylogNote(t *testing.T) {
	capture := filepath.Join("..", "..", "decode", "tls", "testdata", "openssl", "psk-chacha.pcap")
	keys := filepath.Join("..", "..", "decode", "tls", "testdata", "openssl", "psk-chacha.keys")
	dir := t.TempDir()
	notKeys := filepath.Join(dir, "server.pem")
	if err := os.WriteFile(notKeys, []byte("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.log")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args      []string
		says      []string
		exchanges int
	}{
		{[]string{"open", "-o", "json", "--keylog", keys, capture},
			[]string{"5 of 5 lines used (CLIENT_RANDOM 4, RSA 1)"}, 4},
		{[]string{"open", "-o", "json", "--keylog", notKeys, capture},
			[]string{"warning", "has 3 lines but no TLS key log line", "not an NSS key log", "SSLKEYLOGFILE"}, 0},
		{[]string{"open", "-o", "json", "--keylog", empty, capture},
			[]string{"is empty so far", "read again as it grows"}, 0},
		{[]string{"export", "--keylog", empty, capture, "-w", filepath.Join(dir, "out.har")},
			[]string{"warning", "is empty, so no TLS connection can be decrypted", "SSLKEYLOGFILE"}, -1},
	}
	for _, c := range cases {
		out, stderr, err := runTapview(t, nil, c.args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", c.args, err, stderr)
		}
		for _, s := range c.says {
			if !strings.Contains(stderr, s) {
				t.Errorf("%v: stderr %q does not say %q", c.args, stderr, s)
			}
		}
		if c.exchanges >= 0 {
			if n := strings.Count(string(out), `"type":"exchange"`); n != c.exchanges {
				t.Errorf("%v: %d exchanges, want %d", c.args, n, c.exchanges)
			}
		}
	}
}
