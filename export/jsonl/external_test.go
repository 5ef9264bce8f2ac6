package jsonl

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/mesh"
)

func TestAppendExternal(t *testing.T) {
	t0 := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	g := mesh.Group{Name: "api.github.com", Via: "api.github.com.egress.local",
		IPs:      []netip.Addr{netip.MustParseAddr("140.82.112.6"), netip.MustParseAddr("2606:50c0::1")},
		Requests: 3, Bytes: 5120, Errors: 1, Passed: 2, Blocked: 1, First: t0, Last: t0.Add(time.Second),
		Verdict: mesh.Blocked, Reason: "502 from Envoy \"block_all\""}
	var out bytes.Buffer
	w := NewWriter(&out, Options{Limit: 1})
	w.External([]mesh.Group{g, {Name: "x.example.com", Verdict: mesh.Passed}})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines (the limit must not apply): %q", len(lines), out.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatalf("invalid JSON %q: %v", lines[0], err)
	}
	want := map[string]any{"type": "external", "name": "api.github.com", "requests": 3.0, "bytes": 5120.0,
		"errors": 1.0, "first": "2026-01-15T10:00:00Z", "last": "2026-01-15T10:00:01Z", "verdict": "blocked",
		"via": "api.github.com.egress.local", "reason": `502 from Envoy "block_all"`, "passed": 2.0, "blocked": 1.0, "failed": 0.0}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if ips := m["ips"].([]any); len(ips) != 2 || ips[1] != "2606:50c0::1" {
		t.Errorf("ips %v", ips)
	}
	var second map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if _, ok := second["via"]; ok || second["ips"] == nil {
		t.Errorf("empty group: %v", second)
	}
}

func TestMeshFields(t *testing.T) {
	e := sample()
	e.Direction, e.Leg, e.Linked = decode.DirOutbound, decode.LegApp, 42
	var m map[string]any
	if err := json.Unmarshal(AppendExchange(nil, e), &m); err != nil {
		t.Fatal(err)
	}
	if m["direction"] != "outbound" || m["leg"] != "app" || m["linked"] != 42.0 {
		t.Errorf("exchange mesh fields: %v %v %v", m["direction"], m["leg"], m["linked"])
	}
	f := &decode.Flow{ID: 1, Transport: "tcp", State: decode.FlowClosed, Leg: decode.LegNetwork, Direction: decode.DirInbound}
	m = nil
	if err := json.Unmarshal(AppendFlow(nil, f), &m); err != nil {
		t.Fatal(err)
	}
	if m["direction"] != "inbound" || m["leg"] != "network" {
		t.Errorf("flow mesh fields: %v", m)
	}
	if _, ok := m["linked"]; ok {
		t.Errorf("linked without a link")
	}
	m = nil
	if err := json.Unmarshal(AppendExchange(nil, sample()), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"direction", "leg", "linked"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s present without a mesh", k)
		}
	}
}
