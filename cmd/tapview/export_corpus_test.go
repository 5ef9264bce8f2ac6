package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// runTapview runs tapview in-process and returns stdout, stderr and the
// error.
func runTapview(t *testing.T, stdin *os.File, args ...string) ([]byte, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	if stdin != nil {
		old := os.Stdin
		os.Stdin = stdin // pcapfile reads "-" from os.Stdin
		defer func() { os.Stdin = old }()
	}
	err := cmd.ExecuteContext(context.Background())
	return out.Bytes(), errb.String(), err
}

// mustExport runs `tapview export` and fails the test on an error.
func mustExport(t *testing.T, args ...string) string {
	t.Helper()
	_, stderr, err := runTapview(t, nil, append([]string{"export"}, args...)...)
	if err != nil {
		t.Fatalf("tapview export %v: %v\n%s", args, err, stderr)
	}
	return stderr
}

func needTshark(t *testing.T) {
	t.Helper()
	if exec.Command("tshark", "-v").Run() != nil {
		t.Skip("tshark not installed: run scripts/test-deps.sh")
	}
}

// tsharkCounts are the MANIFEST's message counts as tshark finds them
// in one file.
type tsharkCounts struct {
	packets, reqs, resps, h2headers, grpc, ws int
}

// countWithTshark reads a capture with tshark the way MANIFEST.tsv's
// counts were made and fails when tshark reports an error.
func countWithTshark(t *testing.T, path, opts string, extra ...string) tsharkCounts {
	t.Helper()
	args := []string{"-n", "-r", path, "-o", "tcp.reassemble_out_of_order:TRUE"}
	args = append(args, strings.Fields(opts)...)
	args = append(args, extra...)
	args = append(args, "-T", "fields", "-E", "aggregator=,", "-e", "frame.number", "-e", "http.request.method",
		"-e", "http.response.code", "-e", "http2.type", "-e", "grpc.message_length", "-e", "websocket.opcode")
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark cannot read %s: %v\n%s", filepath.Base(path), err, stderr.String())
	}
	var c tsharkCounts
	items := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 6 || f[0] == "" {
			continue
		}
		c.packets++
		c.reqs += len(items(f[1]))
		c.resps += len(items(f[2]))
		for _, ty := range items(f[3]) {
			if ty == "1" {
				c.h2headers++
			}
		}
		c.grpc += len(items(f[4]))
		c.ws += len(items(f[5]))
	}
	return c
}

func manifestCounts(t *testing.T, r corpustest.Row) tsharkCounts {
	return tsharkCounts{
		packets: r.Int(t, "packets"), reqs: r.Int(t, "http_request_msgs"), resps: r.Int(t, "http_response_msgs"),
		h2headers: r.Int(t, "http2_headers_total"), grpc: r.Int(t, "grpc_msgs_total"), ws: r.Int(t, "websocket_frames_total"),
	}
}

// keyLogOf returns the TLS key log a capture embeds (pcapng DSBs), for
// reading its pcap export, which cannot hold keys.
func keyLogOf(t *testing.T, path string) []byte {
	t.Helper()
	src, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var em secretsCollector
	if err := src.Run(context.Background(), &em); err != nil {
		t.Fatal(err)
	}
	return em.keys
}

type secretsCollector struct{ keys []byte }

func (s *secretsCollector) Packet(sources.Packet)      {}
func (s *secretsCollector) Status(sources.Status)      {}
func (s *secretsCollector) Secrets(_ uint32, b []byte) { s.keys = append(s.keys, b...) }

// TestExportCorpusRoundTrip is issue 6's round trip: every corpus
// capture exported as pcap and pcapng without a filter (masked, the
// default) is read by tshark without error, with as many packets and
// HTTP/1.x, HTTP/2, gRPC and WebSocket messages as MANIFEST.tsv says.
func TestExportCorpusRoundTrip(t *testing.T) {
	needTshark(t)
	dir := corpustest.Dir(t)
	for _, r := range corpustest.Manifest(t) {
		t.Run(r["file"], func(t *testing.T) {
			in := filepath.Join(dir, r["file"])
			want := manifestCounts(t, r)
			tmp := t.TempDir()
			args := []string{in}
			keys := keyLogOf(t, in)
			if len(keys) > 0 {
				// Masked exports leave keys out; this file's HTTP is only
				// visible with them.
				args = append(args, "--no-mask")
			}
			ng := filepath.Join(tmp, "out.pcapng")
			mustExport(t, append(args, "-w", ng)...)
			if got := countWithTshark(t, ng, r["tshark_opts"]); got != want {
				t.Errorf("pcapng: tshark counts %+v, MANIFEST %+v", got, want)
			}
			pc := filepath.Join(tmp, "out.pcap")
			_, stderr, err := runTapview(t, nil, append([]string{"export"}, append(args, "-w", pc)...)...)
			if strings.Contains(r["link_types"], ",") {
				// One link type per pcap: a mix must be refused, pointing
				// at pcapng.
				if err == nil || !strings.Contains(err.Error(), "pcapng") {
					t.Fatalf("pcap of mixed link types: err %v, want a refusal naming pcapng", err)
				}
				if _, serr := os.Stat(pc); serr == nil {
					t.Error("a failed export left its file behind")
				}
				return
			}
			if err != nil {
				t.Fatalf("pcap export: %v\n%s", err, stderr)
			}
			var extra []string
			if len(keys) > 0 {
				kl := filepath.Join(tmp, "keys.txt")
				if err := os.WriteFile(kl, keys, 0o600); err != nil {
					t.Fatal(err)
				}
				extra = []string{"-o", "tls.keylog_file:" + kl}
			}
			if got := countWithTshark(t, pc, r["tshark_opts"], extra...); got != want {
				t.Errorf("pcap: tshark counts %+v, MANIFEST %+v", got, want)
			}
		})
	}
}

// TestExportCorpusHAR: the HAR of every corpus capture validates against
// the HAR 1.2 schema and has one entry per HTTP exchange with a request.
func TestExportCorpusHAR(t *testing.T) {
	dir := corpustest.Dir(t)
	validator := harValidator(t)
	for _, r := range corpustest.Manifest(t) {
		t.Run(r["file"], func(t *testing.T) {
			in := filepath.Join(dir, r["file"])
			out := filepath.Join(t.TempDir(), "out.har")
			mustExport(t, in, "-w", out)
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Log struct {
					Entries []json.RawMessage `json:"entries"`
				} `json:"log"`
			}
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if want := httpExchanges(t, in); len(doc.Log.Entries) != want {
				t.Errorf("%d HAR entries, want %d (HTTP exchanges with a request)", len(doc.Log.Entries), want)
			}
			if validator == "" {
				t.Skip("HAR schema validator not installed: run scripts/test-deps.sh")
			}
			if out, err := exec.Command("node", validator, out).CombinedOutput(); err != nil {
				t.Fatalf("HAR 1.2 schema: %v\n%s", err, out)
			}
		})
	}
}

// httpExchanges counts the HTTP/1.x, HTTP/2 and gRPC exchanges with a
// request, as `tapview open -o json` lists them.
func httpExchanges(t *testing.T, path string) int {
	t.Helper()
	out, stderr, err := runTapview(t, nil, "open", "-o", "json", "--no-mask", path)
	if err != nil {
		t.Fatalf("open: %v\n%s", err, stderr)
	}
	n := 0
	for _, line := range bytes.Split(out, []byte("\n")) {
		var e struct {
			Type, Proto, Method string
		}
		if len(line) == 0 || json.Unmarshal(line, &e) != nil || e.Type != "exchange" {
			continue
		}
		switch e.Proto {
		case "http/1.0", "http/1.1", "h2", "grpc":
			if e.Method != "" {
				n++
			}
		}
	}
	return n
}

// harValidator returns the validator script, or "" when its npm
// dependencies are not installed.
func harValidator(t *testing.T) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(here), "..", "..", "scripts", "har-validate")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "har-validator")); err != nil {
		return ""
	}
	return filepath.Join(dir, "validate.js")
}
