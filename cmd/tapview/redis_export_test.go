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

// redisCapture is scripts/record-redis.sh's recording: a real
// redis-server with requirepass and an ACL user, driven by redis-cli.
var redisCapture = filepath.Join("..", "..", "testdata", "redis", "redis.pcap")

func redisPasswords(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "redis", "passwords.txt"))
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.Fields(string(b))
	if len(pw) != 3 {
		t.Fatalf("passwords.txt holds %d passwords, want 3", len(pw))
	}
	return pw
}

// tsharkPayloads returns every TCP payload of a capture as tshark reads
// it, one after the other.
func tsharkPayloads(t *testing.T, path string) []byte {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", path, "-T", "fields", "-e", "tcp.payload").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", path, err)
	}
	var all []byte
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.ReplaceAll(strings.TrimSpace(l), ":", "")
		if l == "" {
			continue
		}
		b, err := hex.DecodeString(l)
		if err != nil {
			t.Fatalf("tshark payload %q: %v", l[:min(len(l), 40)], err)
		}
		all = append(all, b...)
	}
	return all
}

// TestRedisExportMasksPasswords exports the Redis recording to pcapng:
// masked, none of the planted AUTH / HELLO AUTH passwords is left (in
// the file's bytes or in the payloads tshark reads back); with
// --no-mask, every one of them is there as often as in the capture.
func TestRedisExportMasksPasswords(t *testing.T) {
	pw := redisPasswords(t)
	orig, err := os.ReadFile(redisCapture)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	masked, unmasked := filepath.Join(dir, "masked.pcapng"), filepath.Join(dir, "unmasked.pcapng")
	mustExport(t, redisCapture, "-w", masked)
	mustExport(t, redisCapture, "-w", unmasked, "--no-mask")
	mb, err := os.ReadFile(masked)
	if err != nil {
		t.Fatal(err)
	}
	ub, err := os.ReadFile(unmasked)
	if err != nil {
		t.Fatal(err)
	}
	haveTshark := exec.Command("tshark", "-v").Run() == nil
	var mt, ut, ot []byte
	if haveTshark {
		mt, ut, ot = tsharkPayloads(t, masked), tsharkPayloads(t, unmasked), tsharkPayloads(t, redisCapture)
	} else {
		t.Log("tshark is not installed (scripts/test-deps.sh installs it): checking the files' bytes only")
	}
	for _, p := range pw {
		want := bytes.Count(orig, []byte(p))
		if want < 2 {
			t.Fatalf("password %q is in the capture %d times, want at least 2", p, want)
		}
		// The inline AUTH's password is cut across two segments: only
		// the payloads put together hold it whole.
		wantPayloads := bytes.Count(ot, []byte(p))
		if n := bytes.Count(mb, []byte(p)); n != 0 {
			t.Errorf("masked export: password %q found %d times", p, n)
		}
		if n := bytes.Count(ub, []byte(p)); n != want {
			t.Errorf("--no-mask export: password %q found %d times, the capture has it %d times", p, n, want)
		}
		if haveTshark {
			if n := bytes.Count(mt, []byte(p)); n != 0 {
				t.Errorf("masked export read by tshark: password %q found %d times", p, n)
			}
			if n := bytes.Count(ut, []byte(p)); n != wantPayloads || n <= want && p == pw[1] {
				t.Errorf("--no-mask export read by tshark: password %q found %d times, want %d (more than the file's %d for alice's, cut across segments)", p, n, wantPayloads, want)
			}
		}
	}
	// Only the passwords changed: the masked payloads are as long, and
	// the commands around them are intact.
	if haveTshark {
		if len(mt) != len(ut) || !bytes.Contains(mt, []byte("*2\r\n$4\r\nAUTH\r\n$26\r\n**************************\r\n")) ||
			!bytes.Contains(mt, []byte("$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$24\r\n************************\r\n")) {
			t.Errorf("masked payloads (%d bytes, unmasked %d) do not keep the AUTH and HELLO framing", len(mt), len(ut))
		}
		// The inline commands (scripts/record-redis.sh's "inline"
		// connection): AUTH after PING, and after inline ECHO. carol's
		// password is too short for the search for decoded values (6
		// bytes on): only the stream walker's framing overwrites it.
		for _, s := range []string{"PING\r\nAUTH carol *****\r\n", "AUTH alice ************************\r\nGET inline:0\r\n",
			"ECHO inline\r\nAUTH **************************\r\n"} {
			if !bytes.Contains(mt, []byte(s)) {
				t.Errorf("masked payloads lack %q", s)
			}
		}
	}
}

// redisJSON is the part of an `open -o json` exchange line this test
// reads.
type redisJSON struct {
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
	ClientID   string      `json:"client_id"`
	ReqHeaders [][2]string `json:"req_headers"`
}

// TestRedisOpenJSON runs `tapview open -o json` on the recording (the
// real CLI, in-process) and checks the fields the Redis decoder fills,
// and that passwords are masked there too.
func TestRedisOpenJSON(t *testing.T) {
	out, stderr, err := runTapview(t, nil, "open", "-o", "json", redisCapture)
	if err != nil {
		t.Fatalf("tapview open: %v\n%s", err, stderr)
	}
	pw := redisPasswords(t)
	for _, p := range pw {
		if bytes.Contains(out, []byte(p)) {
			t.Errorf("JSON output holds password %q", p)
		}
	}
	all := jsonExchanges[redisJSON](t, out)
	seen := map[string]bool{}
	auth := 0
	for _, e := range all {
		if e.Proto != "redis" {
			t.Errorf("exchange %s %s: proto %q", e.Method, e.Path, e.Proto)
		}
		switch {
		case e.Method == "GET" && e.Path == "list:1":
			seen["wrongtype"] = e.ErrorCode == "WRONGTYPE" && strings.HasPrefix(e.ReplyError, "WRONGTYPE ")
		case e.Method == "LRANGE":
			seen["rows"] = e.Rows != nil && *e.Rows == 3 && e.Database == "2" && e.User == "default"
		case e.Method == "SMEMBERS" && e.User == "alice":
			seen["hello"] = e.ClientID == "tapview-resp3" && e.Rows != nil && *e.Rows == 3
		case e.Method == "AUTH":
			auth++
			for _, h := range e.ReqHeaders {
				if h[0] == "Password" && h[1] != "" && h[1] != pw[0] {
					seen["masked"] = true
				}
			}
		}
	}
	for _, k := range []string{"wrongtype", "rows", "hello", "masked"} {
		if !seen[k] {
			t.Errorf("JSON: %s not as expected", k)
		}
	}
	if len(all) < 250 || auth < 8 {
		t.Errorf("%d exchanges, %d AUTH", len(all), auth)
	}
}
