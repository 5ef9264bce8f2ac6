package main

import (
	"bufio"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

// What the mesh bed (scripts/meshbed.sh) writes and how the tests read
// it; meshbed_test.go holds tapview's output to it.

// bedTruth is one line of the sidecar's ground truth (truth.jsonl).
type bedTruth struct {
	Dir      string `json:"dir"`
	Kind     string `json:"kind"`
	Down     string `json:"down"`
	Orig     string `json:"orig"`
	MTLS     bool   `json:"mtls"`
	Seq      int    `json:"seq"`
	Method   string `json:"method"`
	Host     string `json:"host"`
	Path     string `json:"path"`
	Status   int    `json:"status"`
	SNI      string `json:"sni"`
	Route    string `json:"route"`
	Verdict  string `json:"verdict"`
	UpLocal  string `json:"up_local"`
	UpRemote string `json:"up_remote"`
	Start    string `json:"start"`
	End      string `json:"end"`
}

// bedApp is one line of what the captured app did (app.jsonl).
type bedApp struct {
	Dir    string `json:"dir"`
	Local  string `json:"local"`
	Method string `json:"method"`
	URL    string `json:"url"`
	Status int    `json:"status"`
}

func readJSONLines[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, v)
	}
	return out
}

// bedRecording is one recording of the bed.
type bedRecording struct {
	dir   string
	truth []bedTruth
	app   []bedApp
}

func loadBed(t *testing.T, dir string) bedRecording {
	t.Helper()
	r := bedRecording{dir: dir, truth: readJSONLines[bedTruth](t, filepath.Join(dir, "truth.jsonl")),
		app: readJSONLines[bedApp](t, filepath.Join(dir, "app.jsonl"))}
	if len(r.truth) == 0 {
		t.Fatalf("%s: empty ground truth", dir)
	}
	// The sidecar's log and the app's agree on what the app sent out.
	var appOut, sideOut int
	for _, a := range r.app {
		if a.Dir == "outbound" {
			appOut++
		}
	}
	for _, tr := range r.truth {
		if tr.Dir == "outbound" {
			sideOut++
		}
	}
	// The TLS connection to api.github.com carried the app's HTTPS
	// requests: one sidecar record, one app record per request.
	if https := r.httpsRequests(""); appOut != sideOut+https-1 {
		t.Fatalf("%s: the app made %d outbound calls, its sidecar logged %d (%d over TLS)", dir, appOut, sideOut, https)
	}
	return r
}

// httpsRequests counts the app's own HTTPS requests (to host, or any).
func (r bedRecording) httpsRequests(host string) int {
	n := 0
	for _, a := range r.app {
		if u, err := url.Parse(a.URL); err == nil && a.Dir == "outbound" && u.Scheme == "https" && (host == "" || u.Hostname() == host) {
			n++
		}
	}
	return n
}

// keyFile writes the concatenation of the named key logs of a recording.
func (r bedRecording) keyFile(t *testing.T, names ...string) string {
	t.Helper()
	var all []byte
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(r.dir, n))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	p := filepath.Join(t.TempDir(), "keys.log")
	if err := os.WriteFile(p, all, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type bedFlow struct {
	ID        uint64 `json:"id"`
	Transport string `json:"transport"`
	Client    string `json:"client"`
	Server    string `json:"server"`
	OrigDst   string `json:"orig_dst"`
	Leg       string `json:"leg"`
	Direction string `json:"direction"`
	Linked    uint64 `json:"linked"`
	SNI       string `json:"sni"`
	State     string `json:"state"`
}

type bedExchange struct {
	ID        uint64 `json:"id"`
	Flow      uint64 `json:"flow"`
	Proto     string `json:"proto"`
	Start     string `json:"start"`
	Client    string `json:"client"`
	Server    string `json:"server"`
	Method    string `json:"method"`
	Host      string `json:"host"`
	Path      string `json:"path"`
	Status    int    `json:"status"`
	Leg       string `json:"leg"`
	Direction string `json:"direction"`
	Linked    uint64 `json:"linked"`
	State     string `json:"state"`
}

type bedGroup struct {
	Name     string   `json:"name"`
	Via      string   `json:"via"`
	IPs      []string `json:"ips"`
	Requests int      `json:"requests"`
	Verdict  string   `json:"verdict"`
	Reason   string   `json:"reason"`
}

// runBed runs `tapview open -o json` in-process and decodes its lines of
// the given type.
func runBed[T any](t *testing.T, typ string, args ...string) []T {
	t.Helper()
	var out []T
	for _, l := range runLines(t, append([]string{"open", "-o", "json", "--no-mask"}, args...)...) {
		if l["type"] != typ {
			continue
		}
		b, _ := json.Marshal(l)
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}
