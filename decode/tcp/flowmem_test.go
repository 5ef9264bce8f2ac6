package tcp

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/sources"
)

// halfOpenPackets builds n connections that never close, as in a SYN
// flood mixed with stalled clients (bench/halfopen writes the same mix
// at scale): half send only a SYN, 30% finish the handshake, 20% also
// send a GET that is never answered. Flows start 100µs apart.
func halfOpenPackets(t testing.TB, n int) []sources.Packet {
	t.Helper()
	server := netip.MustParseAddrPort("10.0.0.10:80")
	start := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	var pkts []sources.Packet
	for i := 0; i < n; i++ {
		client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), uint16(32768+i%28000))
		tc, err := synth.NewTCP(client, server, synth.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ts := start.Add(time.Duration(i) * 100 * time.Microsecond)
		hs := tc.Open(ts)
		switch i % 10 {
		case 0, 1, 2, 3, 4:
			pkts = append(pkts, hs[0])
		case 5, 6, 7:
			pkts = append(pkts, hs...)
		default:
			pkts = append(pkts, hs...)
			pkts = append(pkts, tc.Send(decode.ClientToServer, []byte(fmt.Sprintf("GET /items/%d HTTP/1.1\r\nHost: shop\r\nAccept: */*\r\n\r\n", i)), ts)...)
		}
	}
	for i := range pkts {
		pkts[i].Ordinal = uint64(i + 1)
	}
	return pkts
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestFlowMemory measures what an open TCP flow costs the decoder
// (gopacket's connection and map entry, the conn, detection and the
// HTTP/1 handler of the flows that sent a request) and holds it to the
// documented FlowCost. gopacket's connection pool grows by doubling from
// 1024 (31744 slots hold 30000 flows), so the figure is near the typical
// cost; FlowCost allows for a pool twice as large as needed.
func TestFlowMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates tens of MB")
	}
	const n = 30000
	pkts := halfOpenPackets(t, n)
	before := heapInUse()
	d := NewDecoder(nopOutput{}, Config{Parsers: []decode.Parser{http1.New()}, SkipOrdinals: true, MaxFlows: 2 * n})
	for i := range pkts {
		d.Packet(&pkts[i])
	}
	after := heapInUse()
	per := (int64(after) - int64(before)) / n
	t.Logf("%d open flows: %d bytes each", n, per)
	if st := d.Stats(); st.TCPFlows != n {
		t.Fatalf("%d flows, want %d", st.TCPFlows, n)
	}
	if per > FlowCost {
		t.Errorf("an open flow costs %d bytes, over FlowCost (%d)", per, FlowCost)
	}
	runtime.KeepAlive(d)
	runtime.KeepAlive(pkts)
}
