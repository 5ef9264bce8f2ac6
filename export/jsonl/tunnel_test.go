package jsonl

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/tapview/tapview/decode"
)

// TestFlowTunnel checks the tunnel object of a flow record: valid JSON,
// the VNI under "vni" (the key under "key" for GRE), nodes as given, and
// no object at all for a flow that was not tunnelled.
func TestFlowTunnel(t *testing.T) {
	f := &decode.Flow{ID: 1, Transport: "tcp", State: decode.FlowClosed,
		Client: netip.MustParseAddrPort("192.168.77.1:40000"), Server: netip.MustParseAddrPort("192.168.77.2:8080"),
		Tunnel: &decode.Tunnel{Kind: "vxlan", Depth: 2, ID: 42, HasID: true,
			ClientNode: netip.MustParseAddr("10.20.0.1"), ServerNode: netip.MustParseAddr("fd20::2")}}
	var got struct {
		Tunnel map[string]any `json:"tunnel"`
	}
	line := AppendFlow(nil, f)
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	want := map[string]any{"kind": "vxlan", "vni": 42.0, "depth": 2.0, "client_node": "10.20.0.1", "server_node": "fd20::2"}
	if len(got.Tunnel) != len(want) {
		t.Fatalf("tunnel %v, want %v", got.Tunnel, want)
	}
	for k, v := range want {
		if got.Tunnel[k] != v {
			t.Errorf("tunnel %s = %v, want %v", k, got.Tunnel[k], v)
		}
	}
	f.Tunnel = &decode.Tunnel{Kind: "gre", ID: 7, HasID: true, Depth: 1}
	got.Tunnel = nil
	if err := json.Unmarshal(AppendFlow(nil, f), &got); err != nil || got.Tunnel["key"] != 7.0 || got.Tunnel["vni"] != nil {
		t.Errorf("gre tunnel %v (%v)", got.Tunnel, err)
	}
	f.Tunnel = nil
	got.Tunnel = nil
	if err := json.Unmarshal(AppendFlow(nil, f), &got); err != nil || got.Tunnel != nil {
		t.Errorf("untunnelled flow has tunnel %v (%v)", got.Tunnel, err)
	}
}
