package main

import (
	"path/filepath"
	"slices"
	"testing"
)

// conformanceKnown are the captures whose exchanges differ from
// tshark's, with why the difference is left. The test fails when one
// of them starts to agree, so the list stays true.
var conformanceKnown = map[string]string{
	// tshark misses what tapview finds.
	"suricata-verify/http2-bugfixes_input.pcap":        "HTTP/2 joined mid-connection (no preface): tshark does not dissect it, tapview finds the frame boundaries",
	"suricata-verify/http2-compression-bug_input.pcap": "HTTP/2 joined mid-connection (no preface): tshark does not dissect it",
	"suricata-verify/http2-long-frame_input.pcap":      "HTTP/2 on a port tshark does not dissect as HTTP/2 without a preface",
	"suricata-verify/http2-errorcode_input.pcap":       "gRPC on port 6233 behind a CONNECT: tshark does not dissect it, tapview detects the preface",
	"suricata-verify/dns-tcp-ts-gap_input.pcap":        "a DNS-over-TCP query lost to a gap: tshark also drops the next query (0x0002), which reassembly delivers after its response; tapview pairs the two and shows the answer to the lost query as an orphan",
	"zeek/http-content-range-gap-skip.pcap":            "a response body with a gap: tshark's reassembly never completes the response",
	"zeek/http-content-range-gap.pcap":                 "a response body with a gap: tshark's reassembly never completes the response",
	"zeek/http-entity_gap.pcap":                        "a response body with a gap: tshark's reassembly never completes the response",
	"zeek/http-entity_gap2.pcap":                       "a response body with a gap: tshark's reassembly never completes the response",
	"zeek/http-zero-length-bodies-with-drops.pcap":     "packets dropped in the capture: tshark's reassembly stalls, tapview finds the requests and responses after the drops",
	"zeek/http-putty-upload.pcap":                      "a POST whose body is cut short: tshark never completes the request, tapview shows it partial",
	"zeek/http-http-single-conn-22.pcap":               "HTTP on port 22: tshark dissects by port (SSH), tapview by content",
	"zeek/http-http-to-ssh.pcap":                       "HTTP to port 22: tshark dissects by port (SSH), tapview by content",
	"zeek/http-zeek-image-post-1080-8000-x.pcap":       "HTTP on port 8000: tshark does not dissect the port as HTTP",
	"zeek/http-query-method.pcap":                      "the QUERY method (draft-ietf-httpbis-safe-method-w-body) is not in tshark's method list",
	"zeek/http-query-method-non-standard-port.pcap":    "the QUERY method is not in tshark's method list",
	// tapview is stricter than tshark.
	"zeek/http-methods.pcap":                               "malformed request lines ('GET /HTTP/1.1', 'OPTIONS', 'GET / HTTP/1.'): tshark takes them as requests, tapview does not (the server's 400s show as orphans)",
	"zeek/http-no-uri.pcap":                                "a request line without a target ('GET HTTP/1.1'): not a request to tapview",
	"zeek/http-connect-with-smtp.pcap":                     "'CONNECT host:25 / HTTP/1.0' (four tokens) and a header line without a colon: not a request to tapview, the 200 shows as an orphan",
	"zeek/http-http-09-content-length-confusion.pcap":      "an HTTP/0.9 request line ('GET /' without a version) on a keep-alive connection: tapview does not take it as a request",
	"suricata-verify/dns-udp-junkrequest-first_input.pcap": "a junk datagram on port 53: tshark shows a query without a name, tapview ignores it",
	"zeek/dns-dns-invalid-names.pcap":                      "names with looping pointers and labels over 63 bytes: tapview drops the messages, tshark shows them with an error",
	"suricata-verify/dns_dns-forward-pointer_input.pcap":   "a compression pointer pointing forwards: RFC 1035 allows only prior occurrences, tapview drops the message, tshark follows it",
	"suricata-verify/dns_dns-invalid-opcode_input.pcap":    "opcode 15: tapview takes only QUERY, STATUS, NOTIFY and UPDATE messages as DNS",
	// They say the same in other words.
	"zeek/dns-mdns.pcap":                                 "mDNS responses without a question: tshark has no query name, tapview names the exchange after the first answer",
	"zeek/dns-mdns-no-assoc.pcap":                        "mDNS responses without a question: tshark has no query name, tapview names the exchange after the first answer",
	"suricata-verify/dns-over-http2_dns_over_https.pcap": "tshark reports :status 200 twice for stream 7 (frame 21); tapview has one response on that stream, which the client then resets (CANCEL); not looked into further",
}

// TestPublicConformance compares, for every capture under
// testdata/conformance (Zeek's and suricata-verify's HTTP, HTTP/2, DNS
// and WebSocket test captures, testdata/conformance/README.md), tapview's
// HTTP requests (method, target), responses (status, interim ones too),
// DNS queries and responses (name) and WebSocket frames (kind) with
// tshark's, and reports how
// many files agree exactly. Files that differ for a known reason are in
// conformanceKnown; any other difference fails.
func TestPublicConformance(t *testing.T) {
	needTshark(t)
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "conformance", "*", "*.pcap*"))
	if len(files) < 100 {
		t.Fatalf("only %d captures under testdata/conformance", len(files))
	}
	frames, runs := tsharkFramesByFile(t, files)
	exs := tapviewExchanges(t, runs, false)
	same, lines, known := 0, 0, 0
	for _, file := range files {
		want := tsharkLines(frames[file], false)
		got := tapviewLines(exs[filepath.Base(file)], false)
		name := filepath.Base(filepath.Dir(file)) + "/" + filepath.Base(file)
		why, isKnown := conformanceKnown[name]
		if slices.Equal(got, want) {
			same++
			lines += len(want)
			if isKnown {
				t.Errorf("%s: now agrees with tshark; drop it from conformanceKnown (%s)", name, why)
			}
			continue
		}
		if isKnown {
			known++
			continue
		}
		t.Errorf("%s: %d lines, tshark %d:\n%s", name, len(got), len(want), lineDiff(got, want))
	}
	if len(conformanceKnown) != known {
		t.Errorf("conformanceKnown names %d files, %d of them differ", len(conformanceKnown), known)
	}
	t.Logf("%d of %d files agree with tshark exactly (%d requests, responses, DNS messages and WebSocket frames); %d differ for a known reason",
		same, len(files), lines, known)
}
