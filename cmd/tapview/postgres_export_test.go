package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pgDir holds scripts/record-postgres.sh's recording: a real PostgreSQL
// 15 with SCRAM and md5 users, driven by psql and a pgx client.
var pgDir = filepath.Join("..", "..", "testdata", "postgres")

// pgWireSecrets reads a capture with tshark's pgsql dissector and
// returns its TCP payloads, one after the other, and what its clients
// and server sent as secrets: the md5 PasswordMessage and every
// SASL/SCRAM payload; plus the planted SQL password literals
// (secrets.txt lines 4 and 5). One tshark run does both, for CI time.
func pgWireSecrets(t *testing.T, capture string) (payloads []byte, secrets [][]byte) {
	t.Helper()
	port, err := os.ReadFile(filepath.Join(pgDir, "port.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tshark", "-n", "-r", capture, "-d", "tcp.port=="+strings.TrimSpace(string(port))+",pgsql",
		"-T", "fields", "-e", "tcp.payload", "-e", "pgsql.password", "-e", "pgsql.auth.sasl.data").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	unhex := func(h string) []byte {
		b, err := hex.DecodeString(strings.ReplaceAll(h, ":", ""))
		if err != nil {
			t.Fatalf("tshark hex %q: %v", h[:min(len(h), 40)], err)
		}
		return b
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			continue
		}
		payloads = append(payloads, unhex(f[0])...)
		if f[1] != "" {
			secrets = append(secrets, []byte(f[1]))
		}
		for _, h := range strings.Split(f[2], ",") {
			if h != "" {
				secrets = append(secrets, unhex(h))
			}
		}
	}
	planted, err := os.ReadFile(filepath.Join(pgDir, "secrets.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(planted))
	if len(lines) != 5 {
		t.Fatalf("secrets.txt holds %d lines, want 5", len(lines))
	}
	for _, s := range lines[3:] {
		secrets = append(secrets, []byte(s))
	}
	return payloads, secrets
}

// TestPostgresExportMasksSecrets exports the PostgreSQL recording to
// pcapng: masked, none of the md5 password, SCRAM messages or SQL
// password literals is left in the payloads tshark reads back; with
// --no-mask every one is there.
func TestPostgresExportMasksSecrets(t *testing.T) {
	if exec.Command("tshark", "-v").Run() != nil {
		t.Skip("tshark is not installed (scripts/test-deps.sh installs it)")
	}
	capture := filepath.Join(pgDir, "postgres.pcap")
	dir := t.TempDir()
	masked, unmasked := filepath.Join(dir, "masked.pcapng"), filepath.Join(dir, "unmasked.pcapng")
	mustExport(t, capture, "-w", masked)
	mustExport(t, capture, "-w", unmasked, "--no-mask")
	// The secrets as tshark finds them in the unmasked export (the
	// capture's own bytes).
	ut, secrets := pgWireSecrets(t, unmasked)
	if len(secrets) < 15 {
		t.Fatalf("only %d secrets found in the capture", len(secrets))
	}
	mt := tsharkPayloads(t, masked)
	mb, err := os.ReadFile(masked)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if !bytes.Contains(ut, s) {
			t.Errorf("--no-mask export lacks %q", s)
		}
		if bytes.Contains(mt, s) || bytes.Contains(mb, s) {
			t.Errorf("masked export holds %q", s)
		}
	}
	if len(mt) != len(ut) {
		t.Errorf("masked payloads %d bytes, unmasked %d", len(mt), len(ut))
	}
}

// TestPostgresOpenJSON runs `tapview open -o json` on the recording and
// checks the fields the decoder fills, and that no secret is printed.
func TestPostgresOpenJSON(t *testing.T) {
	out, stderr, err := runTapview(t, nil, "open", "-o", "json", filepath.Join(pgDir, "postgres.pcap"))
	if err != nil {
		t.Fatalf("tapview open: %v\n%s", err, stderr)
	}
	checkPGJSON(t, out)
}

// TestPostgresBinaryJSON does the same with the built binary, as a user
// runs it.
func TestPostgresBinaryJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the test that builds the binary")
	}
	bin := buildBinary(t)
	out, err := exec.Command(bin, "open", "-o", "json", filepath.Join(pgDir, "postgres.pcap")).Output()
	if err != nil {
		t.Fatalf("%s open: %v", bin, err)
	}
	checkPGJSON(t, out)
}

// checkPGJSON checks the exchanges of the recording in JSON lines: the
// fields the decoder fills, and that no planted secret is printed.
func checkPGJSON(t *testing.T, out []byte) {
	t.Helper()
	planted, err := os.ReadFile(filepath.Join(pgDir, "secrets.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range strings.Fields(string(planted)) {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("JSON output holds %q", s)
		}
	}
	type ex struct {
		Type, Proto, Method, Path, State string
		ReplyError                       string `json:"reply_error"`
		ErrorCode                        string `json:"error_code"`
		Rows                             *int64
		Database                         string
		User                             string `json:"db_user"`
	}
	seen := map[string]bool{}
	n := 0
	for _, l := range bytes.Split(out, []byte("\n")) {
		var e ex
		if len(l) == 0 || json.Unmarshal(l, &e) != nil || e.Type != "exchange" {
			continue
		}
		n++
		if e.Proto != "postgres" {
			t.Errorf("%s %q: proto %q", e.Method, e.Path, e.Proto)
		}
		switch {
		case e.Method == "SELECT" && e.Path == "SELECT * FROM nothere;":
			seen["error"] = e.ErrorCode == "42P01" && e.ReplyError == `ERROR: relation "nothere" does not exist`
		case e.Method == "INSERT" && strings.Contains(e.Path, "('pear', 5"):
			seen["rows"] = e.Rows != nil && *e.Rows == 3 && e.Database == "appdb" && e.User == "appuser"
		case e.Method == "EXECUTE" && strings.HasPrefix(e.Path, "SELECT id, name, qty FROM items"):
			seen["execute"] = e.Rows != nil && *e.Rows == 4
		case e.Method == "ALTER":
			seen["literal"] = strings.Contains(e.Path, "PASSWORD '••••••••'")
		case e.Method == "STARTUP" && e.User == "md5user":
			seen["md5"] = e.State == "complete"
		}
	}
	for _, k := range []string{"error", "rows", "execute", "literal", "md5"} {
		if !seen[k] {
			t.Errorf("JSON: %s not as expected", k)
		}
	}
	if n < 50 {
		t.Errorf("%d exchanges", n)
	}
}

// TestPostgresTLSWithKeys decodes the connection that ran over TLS
// (SSLRequest answered 'S') with the client's key log: the statement
// inside is decoded like a plaintext one, marked TLS.
func TestPostgresTLSWithKeys(t *testing.T) {
	keys := filepath.Join(pgDir, "tls.keys")
	out, stderr, err := runTapview(t, nil, "open", "--keylog", keys, "-o", "json", filepath.Join(pgDir, "postgres.pcap"))
	if err != nil {
		t.Fatalf("tapview open: %v\n%s", err, stderr)
	}
	type ex struct {
		Type, Proto, Method, Path string
		TLS                       bool
		Rows                      *int64
		User                      string `json:"db_user"`
	}
	found := false
	for _, l := range bytes.Split(out, []byte("\n")) {
		var e ex
		if len(l) == 0 || json.Unmarshal(l, &e) != nil || e.Type != "exchange" {
			continue
		}
		if e.Method == "EXECUTE" && e.Path == "SELECT 'decrypted ' || $1::text" {
			found = e.TLS && e.Proto == "postgres" && e.Rows != nil && *e.Rows == 1 && e.User == "appuser"
		}
	}
	if !found {
		t.Error("the statement sent over TLS was not decoded with the key log")
	}
	// Without the keys it stays encrypted.
	out, _, err = runTapview(t, nil, "open", "-o", "json", filepath.Join(pgDir, "postgres.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("decrypted ")) {
		t.Error("decoded TLS without keys")
	}
}
