package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mysqlCapture is scripts/record-mysql.sh's recording: a throwaway
// MariaDB with password logins over TCP, driven by the mariadb client
// and go-sql-driver/mysql.
var mysqlCapture = filepath.Join("..", "..", "testdata", "mysql", "mysql.pcap")

// mysqlSecrets returns what no masked output may hold: the planted SQL
// password literals (secrets.txt) and every login's auth-response and
// auth-switch response as Wireshark's dissector reads them from the
// capture.
func mysqlSecrets(t *testing.T) (sql []string, auth [][]byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mysql", "secrets.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(l, "\t")
		if strings.HasPrefix(k, "sql") {
			sql = append(sql, v)
		}
	}
	out, err := exec.Command("tshark", "-n", "-r", mysqlCapture, "-d", "tcp.port==3307,mysql", "-Y", "mysql",
		"-T", "fields", "-e", "mysql.passwd", "-e", "mysql.auth_switch_response.data").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	for _, f := range strings.Fields(string(out)) {
		v, err := hex.DecodeString(strings.ReplaceAll(f, ":", ""))
		if err != nil {
			t.Fatalf("tshark field %q: %v", f, err)
		}
		auth = append(auth, v)
	}
	if len(sql) != 3 || len(auth) != 8 {
		t.Fatalf("%d SQL literals and %d auth responses, want 3 and 8", len(sql), len(auth))
	}
	return sql, auth
}

// TestMySQLExportMasksPasswords exports the MySQL recording to pcapng:
// masked, none of the auth-responses (seven logins, one ed25519 auth
// switch) or planted SQL password literals (one inside a compressed
// packet, found by inflating it) is left, in the file or in
// the payloads tshark reads back, and tshark still reads each login with
// a password of '*'; with --no-mask every one is there.
func TestMySQLExportMasksPasswords(t *testing.T) {
	needTshark(t)
	sql, auth := mysqlSecrets(t)
	dir := t.TempDir()
	masked, unmasked := filepath.Join(dir, "masked.pcapng"), filepath.Join(dir, "unmasked.pcapng")
	mustExport(t, mysqlCapture, "-w", masked)
	mustExport(t, mysqlCapture, "-w", unmasked, "--no-mask")
	mb, err := os.ReadFile(masked)
	if err != nil {
		t.Fatal(err)
	}
	ub, err := os.ReadFile(unmasked)
	if err != nil {
		t.Fatal(err)
	}
	mt := tsharkPayloads(t, masked)
	secrets := auth
	for _, s := range sql {
		secrets = append(secrets, []byte(s))
	}
	for _, s := range secrets {
		for name, b := range map[string][]byte{"masked export": mb, "masked payloads (tshark)": mt} {
			if bytes.Contains(b, s) {
				t.Errorf("%s holds secret %x", name, s)
			}
		}
		if !bytes.Contains(ub, s) {
			t.Errorf("--no-mask export lacks secret %x", s)
		}
	}
	// The AWS key id travels only inside a compressed reply: decoding
	// the exports (unmasked) shows whether its packet was overwritten.
	key := mysqlSecret(t, "zipkey")
	if bytes.Contains(ub, []byte(key)) {
		t.Fatalf("key %s is not compressed in the capture", key)
	}
	for _, c := range []struct {
		file string
		want bool
	}{{masked, false}, {unmasked, true}} {
		out, stderr, err := runTapview(t, nil, "open", "-o", "json", "--bodies", "--no-mask", c.file)
		if err != nil {
			t.Fatalf("tapview open %s: %v\n%s", c.file, err, stderr)
		}
		if got := bytes.Contains(out, []byte(key)); got != c.want {
			t.Errorf("%s decoded: compressed key present %v, want %v", filepath.Base(c.file), got, c.want)
		}
	}
	checkChangeUser(t, masked, unmasked)
	out, err := exec.Command("tshark", "-n", "-r", masked, "-d", "tcp.port==3307,mysql", "-Y", "mysql.passwd",
		"-T", "fields", "-e", "mysql.user", "-e", "mysql.passwd").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 7 {
		t.Fatalf("tshark reads %d logins in the masked export, want 7:\n%s", len(lines), out)
	}
	for _, l := range lines {
		user, pw, _ := strings.Cut(l, "\t")
		if user == "" || strings.Trim(strings.ReplaceAll(pw, ":", ""), "2a") != "" {
			t.Errorf("masked login read by tshark: user %q password %q", user, pw)
		}
	}
}

// checkChangeUser reads both exports back with tapview's decoder (tshark
// 4.0 does not follow this connection's compressed packets) and checks
// the two COM_CHANGE_USERs of the compressed connection
// (scripts/mysql-change-user.py): masked, their auth data (inside a
// zlib-compressed packet) and the auth-switch responses after them are
// all '*' and the commands still decode with their user; unmasked they
// are the real bytes.
func checkChangeUser(t *testing.T, masked, unmasked string) {
	t.Helper()
	for _, c := range []struct {
		file   string
		masked bool
	}{{masked, true}, {unmasked, false}} {
		out, stderr, err := runTapview(t, nil, "open", "-o", "json", "--no-mask", c.file)
		if err != nil {
			t.Fatalf("tapview open %s: %v\n%s", c.file, err, stderr)
		}
		var users []string
		for _, e := range jsonExchanges[mysqlJSON](t, out) {
			if e.Method != "CHANGE_USER" {
				continue
			}
			var auth []string
			for _, h := range e.ReqHeaders {
				switch h[0] {
				case "User":
					users = append(users, h[1])
				case "Password", "Auth-Password":
					auth = append(auth, h[1])
				}
			}
			for _, a := range auth {
				if stars := strings.Trim(a, "2a") == ""; stars != c.masked || len(a) < 40 {
					t.Errorf("%s: CHANGE_USER auth data %s, want stars %v", filepath.Base(c.file), a, c.masked)
				}
			}
			if len(auth) != 2 {
				t.Errorf("%s: CHANGE_USER with %d auth values, want the auth-response and the auth-switch response", filepath.Base(c.file), len(auth))
			}
		}
		if strings.Join(users, " ") != "ed app" {
			t.Errorf("%s: CHANGE_USER users %q, want ed then app", filepath.Base(c.file), users)
		}
	}
}

// mysqlJSON is the part of an `open -o json` exchange line this test
// reads.
type mysqlJSON struct {
	Type       string      `json:"type"`
	Proto      string      `json:"proto"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	State      string      `json:"state"`
	ReplyError string      `json:"reply_error"`
	ErrorCode  string      `json:"error_code"`
	Rows       *int64      `json:"rows"`
	Database   string      `json:"database"`
	User       string      `json:"db_user"`
	ReqHeaders [][2]string `json:"req_headers"`
}

// TestMySQLOpenJSON runs `tapview open -o json` on the recording (the
// real CLI, in-process) and checks the fields the MySQL decoder fills,
// and that auth-responses and SQL password literals are masked there.
func TestMySQLOpenJSON(t *testing.T) {
	out, stderr, err := runTapview(t, nil, "open", "-o", "json", mysqlCapture)
	if err != nil {
		t.Fatalf("tapview open: %v\n%s", err, stderr)
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mysql", "secrets.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		_, v, _ := strings.Cut(l, "\t")
		if bytes.Contains(out, []byte(v)) {
			t.Errorf("JSON output holds planted password %q", v)
		}
	}
	all := jsonExchanges[mysqlJSON](t, out)
	seen := map[string]bool{}
	for _, e := range all {
		if e.Proto != "mysql" {
			t.Errorf("exchange %s %s: proto %q", e.Method, e.Path, e.Proto)
		}
		switch {
		case e.Method == "SELECT" && strings.HasPrefix(e.Path, "SELECT id, name, qty, born"):
			seen["rows"] = e.Rows != nil && *e.Rows == 4 && e.Database == "shop" && e.User == "app"
		case e.Method == "SELECT" && strings.Contains(e.Path, "missing_table"):
			seen["error"] = e.ErrorCode == "1146" && strings.HasPrefix(e.ReplyError, "#42S02 ")
		case e.Method == "UPDATE":
			seen["affected"] = e.Rows != nil && *e.Rows == 2
		case e.Method == "EXECUTE" && strings.HasPrefix(e.Path, "SELECT id, name, qty FROM pets WHERE id >= ?"):
			seen["execute"] = e.Rows != nil && *e.Rows == 3
		case e.Method == "CREATE" && strings.Contains(e.Path, "IDENTIFIED BY"):
			seen["literal"] = !strings.Contains(e.Path, "planted")
		case e.Method == "CONNECT" && e.User == "app" && e.Database == "shop":
			for _, h := range e.ReqHeaders {
				if h[0] == "Password" && h[1] != "" && !strings.ContainsAny(h[1], "0123456789abcdef") {
					seen["password"] = true
				}
			}
		}
	}
	for _, k := range []string{"rows", "error", "affected", "execute", "literal", "password"} {
		if !seen[k] {
			t.Errorf("JSON: %s not as expected", k)
		}
	}
	// 20 on the main connection, 1 refused login, 3 with the ping, 3
	// with the ed25519 user, 11 binary-protocol, 6 compressed, 7 on the
	// compressed change-user connection, 1 SSL request.
	if len(all) != 52 {
		t.Errorf("%d exchanges, want 52", len(all))
	}
}

// mysqlSecret returns one planted value of secrets.txt by name.
func mysqlSecret(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mysql", "secrets.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if k, v, _ := strings.Cut(l, "\t"); k == name {
			return v
		}
	}
	t.Fatalf("secrets.txt has no %s", name)
	return ""
}
