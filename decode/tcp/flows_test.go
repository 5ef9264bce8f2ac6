package tcp

import (
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
)

// TestTCPFlowCountsMatchManifest compares the number of TCP flows with
// tshark's distinct tcp.stream count for every corpus file, and checks
// that every TCP packet is counted to exactly one flow, in order.
func TestTCPFlowCountsMatchManifest(t *testing.T) {
	for _, row := range corpustest.Manifest(t) {
		name := row["file"]
		out, d := run(t, name, Config{Parsers: []decode.Parser{&recorder{name: "rec"}}})
		flows := out.transport("tcp")
		if want := row.Int(t, "tcp_streams"); len(flows) != want {
			t.Errorf("%s: %d TCP flows, tshark %d", name, len(flows), want)
		}
		var pkts int64
		for _, f := range flows {
			pkts += f.PacketsC2S + f.PacketsS2C
			if int64(len(f.Ordinals)) != f.PacketsC2S+f.PacketsS2C {
				t.Errorf("%s flow %d: %d ordinals for %d packets", name, f.ID, len(f.Ordinals), f.PacketsC2S+f.PacketsS2C)
			}
			for i := 1; i < len(f.Ordinals); i++ {
				if f.Ordinals[i] <= f.Ordinals[i-1] {
					t.Errorf("%s flow %d: ordinals not increasing at %d", name, f.ID, i)
					break
				}
			}
			if f.State == decode.FlowOpen && f.Partial {
				t.Errorf("%s flow %d: partial flow in state open", name, f.ID)
			}
		}
		if st := d.Stats(); pkts != st.TCPPackets {
			t.Errorf("%s: flows hold %d packets, decoder saw %d TCP packets", name, pkts, st.TCPPackets)
		}
	}
}
