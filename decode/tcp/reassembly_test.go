package tcp

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
)

// oracleHalf is an independent model of one direction of a connection,
// built from gopacket's layer decoder: every payload byte is placed at its
// sequence offset from the first packet of the direction (first copy
// wins), bytes announced but not captured are marked missing.
type oracleHalf struct {
	base    uint32
	started bool
	data    []byte
	have    []bool
}

type oracleKey struct{ src, dst netip.AddrPort }

// oracle computes, per direction of every TCP connection in a file, the
// expected stream bytes and the number of bytes that must be reported as
// gaps.
func oracle(t *testing.T, name string) map[oracleKey]*oracleHalf {
	t.Helper()
	halves := map[oracleKey]*oracleHalf{}
	for _, p := range corpustest.Read(t, name) {
		pkt := gopacket.NewPacket(p.Data, layers.LinkType(p.LinkType), gopacket.Lazy)
		tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil || pkt.NetworkLayer() == nil {
			continue
		}
		var src, dst netip.Addr
		var payloadLen int
		switch ip := pkt.NetworkLayer().(type) {
		case *layers.IPv4:
			src, _ = netip.AddrFromSlice(ip.SrcIP)
			dst, _ = netip.AddrFromSlice(ip.DstIP)
			payloadLen = int(ip.Length) - int(ip.IHL)*4 - int(tcp.DataOffset)*4
		case *layers.IPv6:
			src, _ = netip.AddrFromSlice(ip.SrcIP)
			dst, _ = netip.AddrFromSlice(ip.DstIP)
			payloadLen = int(ip.Length) - int(tcp.DataOffset)*4
		}
		k := oracleKey{netip.AddrPortFrom(src, uint16(tcp.SrcPort)), netip.AddrPortFrom(dst, uint16(tcp.DstPort))}
		h := halves[k]
		if h == nil {
			h = &oracleHalf{}
			halves[k] = h
		}
		seq := tcp.Seq
		if tcp.SYN {
			seq++
		}
		if !h.started {
			h.base, h.started = seq, true
		}
		off := int64(int32(seq - h.base))
		payload := tcp.Payload
		if len(payload) > payloadLen {
			payload = payload[:payloadLen] // Ethernet padding
		}
		if payloadLen <= 0 || off < 0 || off+int64(payloadLen) > 64<<20 {
			continue
		}
		if end := int(off) + payloadLen; end > len(h.data) {
			h.data = append(h.data, make([]byte, end-len(h.data))...)
			h.have = append(h.have, make([]bool, end-len(h.have))...)
		}
		for i := range payload {
			if o := int(off) + i; !h.have[o] {
				h.data[o], h.have[o] = payload[i], true
			}
		}
	}
	return halves
}

// expect returns the bytes in stream order and the count of missing ones.
func (h *oracleHalf) expect() (data []byte, gaps int) {
	for o, ok := range h.have {
		if ok {
			data = append(data, h.data[o])
		} else {
			gaps++
		}
	}
	return data, gaps
}

// TestReassemblyMatchesOracle checks every TCP connection of every corpus
// file: the bytes delivered per direction equal the bytes an independent
// model places by sequence number (no duplicates from retransmissions,
// nothing lost to reordering), and missing bytes arrive as gaps.
func TestReassemblyMatchesOracle(t *testing.T) {
	for _, row := range corpustest.Manifest(t) {
		name := row["file"]
		if row.Int(t, "tcp_streams") == 0 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			rec := &recorder{name: "rec"}
			out, _ := run(t, name, Config{Parsers: []decode.Parser{rec}})
			want := oracle(t, name)
			checked := 0
			for _, rc := range rec.conns {
				f := out.flows[rc.c.Flow().ID]
				for _, dir := range []decode.Direction{decode.ClientToServer, decode.ServerToClient} {
					k := oracleKey{f.Client, f.Server}
					if dir == decode.ServerToClient {
						k = oracleKey{f.Server, f.Client}
					}
					h := want[k]
					got, gotGaps := rc.stream(dir)
					if h == nil {
						if len(got) != 0 {
							t.Errorf("flow %d %s: %d bytes from a direction with no packets", f.ID, dir, len(got))
						}
						continue
					}
					exp, expGaps := h.expect()
					if !bytes.Equal(got, exp) || gotGaps != expGaps {
						t.Errorf("flow %d %s: got %d bytes + %d gap bytes, oracle %d + %d (first diff at %d)",
							f.ID, dir, len(got), gotGaps, len(exp), expGaps, firstDiff(got, exp))
					}
					checked++
				}
				if len(rc.ended) != 1 {
					t.Errorf("flow %d: End called %d times", f.ID, len(rc.ended))
				}
			}
			payload := 0
			for _, h := range want {
				payload += len(h.data)
			}
			if payload > 0 && checked == 0 {
				t.Fatal("file has payload but no direction was checked")
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
