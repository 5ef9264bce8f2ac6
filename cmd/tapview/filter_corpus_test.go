package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode/link/corpustest"
)

// exchangeRecord is an exchange as `open -o json --bodies --no-mask`
// prints it, kept generic so predicates read the printed fields.
type exchangeRecord map[string]any

func (r exchangeRecord) str(k string) string { s, _ := r[k].(string); return s }
func (r exchangeRecord) num(k string) float64 {
	n, _ := r[k].(float64)
	return n
}
func (r exchangeRecord) has(k string) bool { _, ok := r[k]; return ok }
func (r exchangeRecord) key() string {
	return r.str("start") + " " + r.str("client") + " " + r.str("method") + " " + r.str("path") + " " + r.str("dns_name") + strconv.Itoa(int(r.num("stream")))
}
func (r exchangeRecord) header(list, name string) bool {
	hs, _ := r[list].([]any)
	for _, h := range hs {
		if p, ok := h.([]any); ok && len(p) == 2 && strings.EqualFold(p[0].(string), name) {
			return true
		}
	}
	return false
}
func (r exchangeRecord) port(k string) int {
	s := r.str(k)
	n, _ := strconv.Atoi(s[strings.LastIndexByte(s, ':')+1:])
	return n
}
func (r exchangeRecord) ip(k string) string {
	s := r.str(k)
	return strings.Trim(s[:strings.LastIndexByte(s, ':')], "[]")
}

func decodeRecords(t *testing.T, args ...string) []exchangeRecord {
	t.Helper()
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"-o", "json", "--no-mask", "--bodies"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("tapview %v: %v", args, err)
	}
	var recs []exchangeRecord
	for _, l := range bytes.Split(out.Bytes(), []byte("\n")) {
		var r exchangeRecord
		if len(l) == 0 || json.Unmarshal(l, &r) != nil || r.str("type") != "exchange" {
			continue
		}
		recs = append(recs, r)
	}
	return recs
}

// TestFilterOnCorpus evaluates the filter examples and a case for
// every variable on exchanges decoded from corpus captures (and the demo),
// and compares each result with a predicate computed from the unfiltered
// JSON output, so the filter and the printed data must agree.
func TestFilterOnCorpus(t *testing.T) {
	dir := corpustest.Dir(t)
	inputs := [][]string{{}} // the embedded demo
	for _, f := range []string{
		"http11_chunked_gzip_100continue_multipart.pcap", "http11_keepalive_5req_1conn.pcap",
		"http11_ipv6_loopback_chunked_midstream.pcap", "grpc_unary.pcapng", "grpc_server_streaming.pcapng",
		"h2c_prior_knowledge_doh_34streams.pcap", "mix_non_http_services.pcap", "http11_nsec_get_to_port22.pcap",
		"pcapng_dsb_tls_keys_decryptable.pcapng",
	} {
		inputs = append(inputs, []string{"open", filepath.Join(dir, f)})
	}
	type fcase struct {
		expr string
		want func(r exchangeRecord) bool
	}
	cases := []fcase{
		// The examples.
		{`status >= 500`, func(r exchangeRecord) bool { return r.num("status") >= 500 }},
		{`method == "POST" && path.startsWith("/api")`, func(r exchangeRecord) bool {
			return r.str("method") == "POST" && strings.HasPrefix(r.str("path"), "/api")
		}},
		{`latency > duration("250ms")`, func(r exchangeRecord) bool { return r.num("duration_ms") > 250 }},
		{`"authorization" in req_headers`, func(r exchangeRecord) bool { return r.header("req_headers", "authorization") }},
		{`grpc_status != 0`, func(r exchangeRecord) bool { return r.has("grpc_status") && r.num("grpc_status") != 0 }},
		{`resp_body.contains("error")`, func(r exchangeRecord) bool { return strings.Contains(r.str("resp_body"), "error") }},
		{`host.matches("^api\\.")`, func(r exchangeRecord) bool { return strings.HasPrefix(r.str("host"), "api.") }},
		{`pets`, func(r exchangeRecord) bool {
			return strings.Contains(strings.ToLower(r.str("host")+r.str("path")), "pets")
		}},
		// One more case per variable.
		{`proto == "h2"`, func(r exchangeRecord) bool { return r.str("proto") == "h2" }},
		{`method == "GET"`, func(r exchangeRecord) bool { return r.str("method") == "GET" }},
		{`host.contains("mozilla")`, func(r exchangeRecord) bool { return strings.Contains(r.str("host"), "mozilla") }},
		{`path.endsWith(".js")`, func(r exchangeRecord) bool {
			p, _, _ := strings.Cut(r.str("path"), "?")
			return strings.HasSuffix(p, ".js")
		}},
		{`url.contains("?")`, func(r exchangeRecord) bool { return strings.Contains(r.str("path"), "?") }},
		{`status == 200`, func(r exchangeRecord) bool { return r.num("status") == 200 }},
		{`grpc_status == 0`, func(r exchangeRecord) bool { return r.has("grpc_status") && r.num("grpc_status") == 0 }},
		{`grpc_service == "greet.GreetService"`, func(r exchangeRecord) bool { return r.str("grpc_service") == "greet.GreetService" }},
		{`grpc_method == "GreetManyTimes"`, func(r exchangeRecord) bool { return r.str("grpc_method") == "GreetManyTimes" }},
		{`req_size > 0`, func(r exchangeRecord) bool { return r.num("req_body_bytes") > 0 }},
		{`resp_size > 1000`, func(r exchangeRecord) bool { return r.num("resp_body_bytes") > 1000 }},
		{`"content-encoding" in resp_headers`, func(r exchangeRecord) bool { return r.header("resp_headers", "content-encoding") }},
		{`req_body.contains("ABCD")`, func(r exchangeRecord) bool { return strings.Contains(r.str("req_body"), "ABCD") }},
		{`content_type == "application/json"`, func(r exchangeRecord) bool { return r.str("resp_content_type") == "application/json" }},
		{`client_port > 50000`, func(r exchangeRecord) bool { return r.port("client") > 50000 }},
		{`server_port == 80`, func(r exchangeRecord) bool { return r.port("server") == 80 }},
		{`server_ip == "::1"`, func(r exchangeRecord) bool { return r.ip("server") == "::1" }},
		{`client_ip.startsWith("172.16.")`, func(r exchangeRecord) bool { return strings.HasPrefix(r.ip("client"), "172.16.") }},
		{`sni == "www.baidu.com"`, func(r exchangeRecord) bool { return r.str("sni") == "www.baidu.com" }},
		{`source.endsWith(".pcapng")`, func(r exchangeRecord) bool { return strings.HasSuffix(r.str("source"), ".pcapng") }},
		{`pod == "" && namespace == ""`, func(r exchangeRecord) bool { return r.str("pod") == "" && r.str("namespace") == "" }},
		{`state != "complete"`, func(r exchangeRecord) bool { return r.str("state") != "complete" }},
		{`error != ""`, func(r exchangeRecord) bool { return r.str("error") != "" }},
	}
	matched := make([]int, len(cases))
	for _, in := range inputs {
		all := decodeRecords(t, in...)
		if len(all) == 0 {
			t.Fatalf("%v decoded no exchanges", in)
		}
		for i, c := range cases {
			got := map[string]int{}
			for _, r := range decodeRecords(t, append([]string{"--filter", c.expr}, in...)...) {
				got[r.key()]++
			}
			want := map[string]int{}
			for _, r := range all {
				if c.want(r) {
					want[r.key()]++
					matched[i]++
				}
			}
			if len(got) != len(want) {
				t.Errorf("%v: filter %s selected %d exchanges, the printed data says %d", in, c.expr, len(got), len(want))
				continue
			}
			for k, n := range want {
				if got[k] != n {
					t.Errorf("%v: filter %s missed %s", in, c.expr, k)
				}
			}
		}
	}
	// Every case must select something somewhere, or it proves nothing.
	for i, c := range cases {
		if matched[i] == 0 {
			t.Errorf("filter %s matched nothing in the test inputs", c.expr)
		}
	}
}
