package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode/link/corpustest"
)

// exchangeJSON is the subset of `open -o json` lines the corpus tests read.
type exchangeJSON struct {
	Type         string   `json:"type"`
	Proto        string   `json:"proto"`
	Method       string   `json:"method"`
	Path         string   `json:"path"`
	Status       int      `json:"status"`
	Interim      []int    `json:"interim"`
	State        string   `json:"state"`
	GRPCStatus   *int     `json:"grpc_status"`
	ReqMessages  int      `json:"req_messages"`
	RespMessages int      `json:"resp_messages"`
	DNSName      string   `json:"dns_name"`
	DNSAnswers   []string `json:"dns_answers"`
	Level        string   `json:"level"`
	Message      string   `json:"message"`
}

// runJSON runs `tapview open -o json --no-mask FILE` in-process.
func runJSON(t *testing.T, args ...string) (lines []exchangeJSON, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"open", "-o", "json", "--no-mask"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("tapview open %v: %v", args, err)
	}
	for _, l := range bytes.Split(out.Bytes(), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var e exchangeJSON
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatalf("invalid JSON line %q: %v", l, err)
		}
		lines = append(lines, e)
	}
	return lines, errb.String()
}

// tsharkHTTP returns tshark's HTTP/1.x request lines ("METHOD URI") and
// response codes for a capture, as MANIFEST.tsv's counts were made.
func tsharkHTTP(t *testing.T, path, opts string) (reqs, codes []string) {
	t.Helper()
	args := []string{"-n", "-r", path, "-o", "tcp.reassemble_out_of_order:TRUE"}
	args = append(args, strings.Fields(opts)...)
	args = append(args, "-Y", "http.request || http.response", "-T", "fields",
		"-e", "http.request.method", "-e", "http.request.uri", "-e", "http.response.code", "-E", "aggregator=\x1f")
	out, _ := exec.Command("tshark", args...).Output() // damaged files exit non-zero after printing
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 3 {
			continue
		}
		ms, us := split1f(f[0]), split1f(f[1])
		for i := range ms {
			if i < len(us) {
				reqs = append(reqs, ms[i]+" "+us[i])
			}
		}
		codes = append(codes, split1f(f[2])...)
	}
	return reqs, codes
}

func split1f(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x1f")
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// TestCorpusHTTP1MatchesTshark checks issue 2's acceptance: for every
// corpus capture with HTTP/1.x messages, tapview finds as many requests
// and responses as MANIFEST.tsv says, with the same methods, URIs and
// status codes as tshark.
func TestCorpusHTTP1MatchesTshark(t *testing.T) {
	rows := corpustest.Manifest(t)
	haveTshark := exec.Command("tshark", "-v").Run() == nil
	for _, r := range rows {
		wantReq, wantResp := r.Int(t, "http_request_msgs"), r.Int(t, "http_response_msgs")
		if wantReq == 0 && wantResp == 0 {
			continue
		}
		t.Run(r["file"], func(t *testing.T) {
			path := filepath.Join(corpustest.Dir(t), r["file"])
			lines, _ := runJSON(t, path)
			var reqs, codes []string
			for _, e := range lines {
				if e.Type != "exchange" || !strings.HasPrefix(e.Proto, "http/1") {
					continue
				}
				if e.Method != "" {
					reqs = append(reqs, e.Method+" "+e.Path)
				}
				if e.Status != 0 {
					codes = append(codes, strconv.Itoa(e.Status))
				}
				for _, c := range e.Interim {
					codes = append(codes, strconv.Itoa(c))
				}
			}
			if len(reqs) != wantReq || len(codes) != wantResp {
				t.Errorf("HTTP/1.x requests %d, responses %d; MANIFEST says %d and %d", len(reqs), len(codes), wantReq, wantResp)
			}
			if !haveTshark {
				t.Skip("tshark not installed (bash .ci/run installs it): method/URI/status comparison skipped")
			}
			tr, tc := tsharkHTTP(t, path, r["tshark_opts"])
			if g, w := strings.Join(sorted(reqs), "\n"), strings.Join(sorted(tr), "\n"); g != w {
				t.Errorf("request lines differ from tshark:\n--- tapview\n%s\n--- tshark\n%s", g, w)
			}
			if g, w := strings.Join(sorted(codes), " "), strings.Join(sorted(tc), " "); g != w {
				t.Errorf("status codes differ from tshark:\ntapview %s\ntshark  %s", g, w)
			}
		})
	}
}

// TestCorpusSpecialCases checks the captures issue 2 names: pipelining,
// a mid-stream start, and damaged files that still open with a warning.
func TestCorpusSpecialCases(t *testing.T) {
	dir := corpustest.Dir(t)
	lines, _ := runJSON(t, filepath.Join(dir, "http11_pipelined_40req_retrans.pcap"))
	paired := 0
	for _, e := range lines {
		if e.Type == "exchange" && e.Method != "" && e.Status != 0 && e.State == "complete" {
			paired++
		}
	}
	if paired != 40 {
		t.Errorf("pipelined capture: %d complete request/response pairs, want 40", paired)
	}

	lines, _ = runJSON(t, filepath.Join(dir, "http11_ipv6_loopback_chunked_midstream.pcap"))
	states := map[string]int{}
	for _, e := range lines {
		if e.Type == "exchange" {
			states[e.State]++
		}
	}
	if states["complete"] == 0 || states["complete"]+states["partial"]+states["orphan"] != 3 {
		t.Errorf("mid-stream IPv6 capture: states %v, want 3 exchanges with the clipped one not complete", states)
	}

	for file, wantWord := range map[string]string{
		"http11_file_cut_short_mid_record.pcap": "cut short",
		"tls_corrupt_record_header.pcap":        "damaged at byte",
	} {
		lines, _ := runJSON(t, filepath.Join(dir, file))
		warned := false
		for _, e := range lines {
			if e.Type == "status" && e.Level == "warning" && strings.Contains(e.Message, wantWord) && strings.Contains(e.Message, "byte") {
				warned = true
			}
		}
		if !warned {
			t.Errorf("%s: no warning containing %q and the byte offset", file, wantWord)
		}
	}
}

// TestOpenNotACapture: a file that is not a capture is a clear error.
func TestOpenNotACapture(t *testing.T) {
	p := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(p, []byte("hello, this is text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := newRootCmd()
	cmd.SetArgs([]string{"open", "-o", "json", p})
	cmd.SetOut(&bytes.Buffer{})
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not a pcap or pcapng capture") {
		t.Fatalf("want a 'not a capture' error, got %v", err)
	}
}
