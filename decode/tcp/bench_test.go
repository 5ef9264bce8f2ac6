package tcp

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources"
)

// sinkParser accepts every flow and only counts bytes, so benchmarks
// measure the transport layer, not a protocol parser.
type sinkParser struct{ bytes int64 }

func (s *sinkParser) Name() string                                                 { return "sink" }
func (s *sinkParser) Detect(*decode.Flow, decode.Direction, []byte) decode.Verdict { return decode.Yes }
func (s *sinkParser) New(decode.Conn) decode.StreamHandler                         { return s }
func (s *sinkParser) Data(_ decode.Direction, b []byte, _ time.Time)               { s.bytes += int64(len(b)) }
func (s *sinkParser) Gap(decode.Direction, int, time.Time)                         {}
func (s *sinkParser) End(decode.FlowState, time.Time)                              {}

type nopOutput struct{}

func (nopOutput) Flow(*decode.Flow)         {}
func (nopOutput) Exchange(*decode.Exchange) {}
func (nopOutput) Note(sources.Status)       {}

// BenchmarkDecoderHTTP replays HTTP captures through one decoder; one op
// is one packet. Every round of a file rewrites the client port, so each
// round is a new set of connections, as in a long capture. The files mix
// a bulk download, keep-alive, pipelining with retransmissions and
// out-of-order segments.
func BenchmarkDecoderHTTP(b *testing.B) {
	for _, name := range []string{
		"http11_sll2_download.pcap",
		"http11_download_retrans_ooo.pcap",
		"http11_pipelined_40req_retrans.pcap",
		"http11_chunked_gzip_100continue_multipart.pcap",
	} {
		pkts := corpustest.Read(b, name)
		var size int64
		var f link.Frame
		portAt := make([]int, len(pkts)) // offset of the client port, -1 if none
		for i, p := range pkts {
			size += int64(len(p.Data))
			portAt[i] = -1
			if link.Parse(p.LinkType, p.Data, &f) == nil && f.Proto == link.ProtoTCP {
				if f.DstPort == 80 {
					portAt[i] = f.TransportOffset
				} else {
					portAt[i] = f.TransportOffset + 2
				}
			}
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(size / int64(len(pkts)))
			sink := &sinkParser{}
			d := NewDecoder(nopOutput{}, Config{Parsers: []decode.Parser{sink}})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k := i % len(pkts)
				if k == 0 {
					round := uint16(1024 + (i/len(pkts))%60000)
					for j, off := range portAt {
						if off >= 0 {
							binary.BigEndian.PutUint16(pkts[j].Data[off:], round)
						}
					}
				}
				d.Packet(&pkts[k])
			}
			d.Finish(time.Time{})
		})
	}
}
