// Package bench_test holds end-to-end decoder benchmarks over traffic
// recorded from real Go clients and servers (bench/capgen): the headless
// JSON path of `tapview open -o json` without file I/O, and the HTTP/2
// and gRPC parsers, which have no benchmark of their own.
package bench_test

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/tapview/tapview/bench/capgen"
	"github.com/tapview/tapview/bench/tapdecode"
	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/dns"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/export/jsonl"
	"github.com/tapview/tapview/sources"
)

// packetList is a pcapw.PacketWriter that keeps the packets in memory.
type packetList struct{ pkts []sources.Packet }

func (l *packetList) WritePacket(p sources.Packet, _ string) error {
	l.pkts = append(l.pkts, p)
	return nil
}
func (l *packetList) Flush() error { return nil }

var corpus = sync.OnceValues(func() (*capgen.Corpus, error) {
	return capgen.Record(context.Background(), capgen.RecordOptions{Seed: 1})
})

func recorded(b *testing.B) *capgen.Corpus {
	b.Helper()
	c, err := corpus()
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// replayed returns the packets of n exchanges of the given mix.
func replayed(b *testing.B, mix string, n int64) ([]sources.Packet, capgen.Stats) {
	b.Helper()
	var l packetList
	st, err := capgen.Replay(&l, recorded(b), capgen.ReplayOptions{Requests: n, Mix: mix, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	return l.pkts, st
}

// decodeInto runs pkts through a decoder with tapview's parsers.
func decodeInto(out decode.Output, cfg tcp.Config, pkts []sources.Packet) {
	cfg.Parsers = tapdecode.Parsers()
	cfg.Datagrams = []decode.DatagramParser{dns.New()}
	d := tcp.NewDecoder(out, cfg)
	for i := range pkts {
		d.Packet(&pkts[i])
	}
	d.Finish(pkts[len(pkts)-1].Timestamp)
}

// BenchmarkHeadlessJSON is `tapview open FILE -o json` without the file
// and the pipeline: every packet of a replayed capture through the TCP
// decoder and the parsers into a masking jsonl.Writer. One op is the
// whole capture; ns/packet and allocs/exchange are reported.
func BenchmarkHeadlessJSON(b *testing.B) {
	for _, mix := range []string{capgen.MixHTTP1, capgen.MixMixed} {
		pkts, st := replayed(b, mix, 20000)
		for _, v := range []struct {
			name string
			cfg  tcp.Config
		}{
			{"default", tcp.Config{}},
			{"skip-ordinals", tcp.Config{SkipOrdinals: true}},
		} {
			b.Run(mix+"/"+v.name, func(b *testing.B) {
				m := mask.Default()
				b.ReportAllocs()
				cpu0 := processCPU()
				for b.Loop() {
					w := jsonl.NewWriter(io.Discard, jsonl.Options{Mask: m.Exchange})
					decodeInto(w, v.cfg, pkts)
					if err := w.Flush(); err != nil {
						b.Fatal(err)
					}
				}
				reportPer(b, len(pkts), st.Exchanges, cpu0)
			})
		}
	}
}

// reportPer reports wall and CPU time per packet and per exchange (CPU
// time since cpu0 includes the GC's work, and is less disturbed by
// neighbours on a shared machine than wall time).
func reportPer(b *testing.B, pkts int, exchanges int64, cpu0 time.Duration) {
	b.StopTimer()
	cpu := float64((processCPU() - cpu0).Nanoseconds()) / float64(b.N)
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns/float64(pkts), "ns/packet")
	b.ReportMetric(ns/float64(exchanges), "ns/exchange")
	b.ReportMetric(cpu/float64(exchanges), "cpu-ns/exchange")
}

// BenchmarkParsers decodes recorded connections of one protocol each
// (h2c with interleaved streams, grpc-go unary calls and reflection
// streams, net/http keep-alive) into a counting output: the parser cost
// per exchange, including the TCP layer under it.
func BenchmarkParsers(b *testing.B) {
	c := recorded(b)
	server := netip.MustParseAddrPort("127.0.0.1:8080")
	start := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	for _, set := range []struct {
		name  string
		units []capgen.Unit
	}{{"http1", c.HTTP1}, {"h2c", c.H2C}, {"grpc", c.GRPC}} {
		var pkts []sources.Packet
		var exchanges int64
		for i := range set.units {
			client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(20000+i))
			p, err := set.units[i].Packets(client, server, start.Add(time.Duration(i)*time.Second))
			if err != nil {
				b.Fatal(err)
			}
			pkts = append(pkts, p...)
			exchanges += int64(set.units[i].Exchanges)
		}
		b.Run(set.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				cnt := tapdecode.NewCounts()
				decodeInto(cnt, tcp.Config{}, pkts)
				if cnt.Exchanges != exchanges {
					b.Fatal(fmt.Sprintf("%d exchanges, want %d", cnt.Exchanges, exchanges))
				}
			}
			reportPer(b, len(pkts), exchanges, cpu0)
		})
	}
}
