package tcp

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources"
)

// encodeFrames packs packets as [link type u16][time delta ms u16][len
// u16][data] records, the input format of FuzzDecoder.
func encodeFrames(pkts []sources.Packet) []byte {
	var out []byte
	var prev time.Time
	for i, p := range pkts {
		delta := uint16(0)
		if i > 0 {
			delta = uint16(min(p.Timestamp.Sub(prev).Milliseconds(), 65535))
		}
		prev = p.Timestamp
		out = binary.BigEndian.AppendUint16(out, p.LinkType)
		out = binary.BigEndian.AppendUint16(out, delta)
		out = binary.BigEndian.AppendUint16(out, uint16(min(len(p.Data), 65535)))
		out = append(out, p.Data[:min(len(p.Data), 65535)]...)
	}
	return out
}

// FuzzDecoder feeds arbitrary frame sequences through the decoder with
// recording parsers: it must not panic or hang, every handler must end
// exactly once, and flow counters must stay consistent.
func FuzzDecoder(f *testing.F) {
	for _, name := range []string{
		"http11_get_plain.pcap", "http11_snaplen96_truncated.pcap", "dns_udp_query_response.pcap",
		"http11_nsec_get_to_port22.pcap", "h2c_upgrade_from_http11.pcap", "tls13_sll2_sni_zeek_org.pcap",
		"http11_pipelined_40req_retrans.pcap",
	} {
		f.Add(encodeFrames(corpustest.Read(f, name)))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rec := &recorder{name: "rec", accept: func(_ decode.Direction, first []byte) decode.Verdict {
			switch {
			case len(first) < 4:
				return decode.NeedMore
			case first[0]&1 == 0:
				return decode.Yes
			default:
				return decode.No
			}
		}}
		dg := &dgramRec{name: "dg"}
		out := newCollector()
		d := NewDecoder(out, Config{Parsers: []decode.Parser{rec}, Datagrams: []decode.DatagramParser{dg},
			MaxPagesPerConn: 8, MaxPagesTotal: 32, IdleTimeout: 5 * time.Second, GapTimeout: time.Second})
		ts := time.Unix(1_700_000_000, 0)
		var n int64
		for len(in) >= 6 {
			lt := binary.BigEndian.Uint16(in[0:2])
			ts = ts.Add(time.Duration(binary.BigEndian.Uint16(in[2:4])) * time.Millisecond)
			l := min(int(binary.BigEndian.Uint16(in[4:6])), len(in)-6)
			n++
			p := sources.Packet{Timestamp: ts, LinkType: lt, Data: in[6 : 6+l], Source: "fuzz", Ordinal: uint64(n)}
			d.Packet(&p)
			in = in[6+l:]
		}
		d.Finish(time.Time{})
		for _, rc := range rec.conns {
			if len(rc.ended) != 1 {
				t.Fatalf("handler ended %d times", len(rc.ended))
			}
		}
		for _, c := range dg.convs {
			if len(c.ended) != 1 {
				t.Fatalf("datagram handler ended %d times", len(c.ended))
			}
		}
		var pk int64
		for _, fl := range out.flows {
			pk += fl.PacketsC2S + fl.PacketsS2C
			if fl.State == decode.FlowOpen && fl.Transport == "tcp" && fl.Partial {
				t.Fatalf("partial TCP flow in open state")
			}
		}
		if st := d.Stats(); pk != st.TCPPackets+st.UDPPackets || st.Packets != n {
			t.Fatalf("flows hold %d packets, stats %+v, fed %d", pk, st, n)
		}
	})
}
