package jsonl

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

func sample() *decode.Exchange {
	t0 := time.Date(2026, 1, 15, 10, 0, 0, 123456789, time.UTC)
	return &decode.Exchange{
		ID: 7, FlowID: 3, Source: "demo.pcapng", Proto: "http/1.1",
		Client: netip.MustParseAddrPort("10.0.0.1:51000"),
		Server: netip.MustParseAddrPort("[::1]:8080"),
		Start:  t0,
		Request: &decode.Message{
			First: t0, Last: t0, Method: "POST", Target: "/api/login?x=\"1\"", Host: "shop",
			Headers:  []decode.Header{{Name: "Host", Value: "shop"}, {Name: "X-Evil", Value: "\x1b[31mred\u2028\xff"}},
			BodySize: 11, DecodedSize: 11,
		},
		Response: &decode.Message{
			First: t0.Add(250 * time.Millisecond), Last: t0.Add(251500 * time.Microsecond), Status: 503,
			Headers:  []decode.Header{{Name: "Content-Type", Value: "application/json; charset=utf-8"}},
			BodySize: 20, DecodedSize: 64, ContentEncoding: []string{"gzip"},
		},
		State: decode.Complete,
	}
}

func TestAppendExchangeIsValidJSONWithSchemaFields(t *testing.T) {
	line := AppendExchange(nil, sample())
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("invalid JSON %q: %v", line, err)
	}
	want := map[string]any{
		"type": "exchange", "id": 7.0, "flow": 3.0, "proto": "http/1.1", "method": "POST",
		"host": "shop", "path": "/api/login?x=\"1\"", "status": 503.0, "client": "10.0.0.1:51000",
		"server": "[::1]:8080", "start": "2026-01-15T10:00:00.123456789Z", "duration_ms": 251.5,
		"req_body_bytes": 11.0, "resp_body_bytes": 64.0, "resp_content_type": "application/json",
		"state": "complete",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if _, ok := m["error"]; ok {
		t.Errorf("error present without an error")
	}
	hs := m["req_headers"].([]any)
	evil := hs[1].([]any)[1].(string)
	if evil != "\x1b[31mred\u2028\ufffd" {
		t.Errorf("escaped header value round-trips to %q", evil)
	}
}

func TestAppendFlowAndStatus(t *testing.T) {
	f := &decode.Flow{ID: 1, Transport: "tcp", Proto: "http/1.1", State: decode.FlowReset, Partial: true,
		PacketsC2S: 3, PacketsS2C: 4, BytesC2S: 10, BytesS2C: 20,
		Client: netip.MustParseAddrPort("1.2.3.4:5"), Server: netip.MustParseAddrPort("5.6.7.8:80")}
	var m map[string]any
	if err := json.Unmarshal(AppendFlow(nil, f), &m); err != nil {
		t.Fatal(err)
	}
	if m["packets"] != 7.0 || m["state"] != "reset" || m["partial"] != true || m["bytes_s2c"] != 20.0 {
		t.Errorf("flow JSON wrong: %v", m)
	}
	s := sources.Status{Source: "a", Level: sources.Warning, Kind: "CONGESTED", Message: "dropped 5"}
	if err := json.Unmarshal(AppendStatus(nil, s), &m); err != nil {
		t.Fatal(err)
	}
	if m["type"] != "status" || m["kind"] != "CONGESTED" || m["level"] != "warning" {
		t.Errorf("status JSON wrong: %v", m)
	}
}

func FuzzQuote(f *testing.F) {
	f.Add("plain")
	f.Add("\x00\x1f\"\\\u2028\xff\xfe")
	f.Fuzz(func(t *testing.T, s string) {
		var out string
		if err := json.Unmarshal(quote(nil, s), &out); err != nil {
			t.Fatalf("quote(%q) is not valid JSON: %v", s, err)
		}
	})
}

func BenchmarkAppendExchange(b *testing.B) {
	e := sample()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendExchange(buf[:0], e)
	}
}
