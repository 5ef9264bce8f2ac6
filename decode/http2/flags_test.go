package http2

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

// TestUndefinedFlagsIgnored reads suricata-verify's http2-continuation
// capture (testdata/conformance): a request header block in a HEADERS
// frame and two CONTINUATION frames, the first with flag 0x01, which
// CONTINUATION does not define and RFC 9113 §4.1 has receivers ignore.
// The request's header fields must be tshark's, in order, the long
// literal split across the two CONTINUATION frames included.
func TestUndefinedFlagsIgnored(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "conformance", "suricata-verify", "http2-continuation_input.pcap")
	out := decodeFile(t, path, New(), decode.Limits{})
	out.checkFinal()
	var xs []*decode.Exchange
	for _, e := range out.exchanges() {
		if e.Proto == "h2" {
			xs = append(xs, e)
		}
	}
	if len(xs) != 1 || xs[0].Request == nil || xs[0].Response == nil {
		t.Fatalf("%d h2 exchanges, want one with request and response: %+v", len(xs), xs)
	}
	var names []string
	for _, h := range xs[0].Request.Headers {
		names = append(names, h.Name)
	}
	got := strings.Join(names, ",")
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (scripts/test-deps.sh installs it)")
	}
	raw, err := exec.Command("tshark", "-n", "-r", path, "-Y", "http2.header.name && tcp.dstport == 8080",
		"-T", "fields", "-e", "http2.header.name").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	want := strings.Join(strings.Fields(strings.ReplaceAll(string(raw), "\n", " ")), ",")
	if got != want || !strings.Contains(got, "namenamenamenamenamenamenamenamenamename") {
		t.Errorf("request header names %q, tshark %q", got, want)
	}
	if xs[0].Request.Target != "/tata" || xs[0].Status() != 200 {
		t.Errorf("%s %s -> %d, want GET /tata -> 200", xs[0].Request.Method, xs[0].Request.Target, xs[0].Status())
	}
}
