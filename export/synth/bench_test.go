package synth_test

import (
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/export/synth"
)

// BenchmarkTCPSend measures turning a 64 KiB write into segments and ACKs.
func BenchmarkTCPSend(b *testing.B) {
	c, err := synth.NewTCP(netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"), synth.Options{})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 64<<10)
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		c.Send(decode.ClientToServer, data, ts)
	}
}

// BenchmarkTCPSendPcapng adds writing the packets as pcapng.
func BenchmarkTCPSendPcapng(b *testing.B) {
	c, err := synth.NewTCP(netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"), synth.Options{})
	if err != nil {
		b.Fatal(err)
	}
	w, err := pcapw.NewPcapng(io.Discard, pcapw.NgOptions{})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 64<<10)
	ts := time.Unix(1700000000, 0)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range c.Send(decode.ClientToServer, data, ts) {
			if err := w.WritePacket(p, ""); err != nil {
				b.Fatal(err)
			}
		}
	}
}
