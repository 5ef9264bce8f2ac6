package streammask

import (
	"encoding/binary"
	"os"
	"strconv"
	"testing"

	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/decode/mask"
)

// BenchmarkFollow runs pass one's follower (a Tracker over every frame)
// on the first TAPVIEW_FOLLOW_MB megabytes (default 200) of the classic
// pcap file TAPVIEW_FOLLOW_PCAP, e.g. bench/record-nginx.sh's capture:
//
//	TAPVIEW_FOLLOW_PCAP=/tmp/nginx-1g.pcap go test -run X -bench Follow -benchmem ./export/streammask
func BenchmarkFollow(b *testing.B) {
	path := os.Getenv("TAPVIEW_FOLLOW_PCAP")
	if path == "" {
		b.Skip("TAPVIEW_FOLLOW_PCAP names no capture")
	}
	mb := 200
	if v, err := strconv.Atoi(os.Getenv("TAPVIEW_FOLLOW_MB")); err == nil {
		mb = v
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, mb<<20)
	n, _ := f.Read(buf)
	buf = buf[:n]
	if len(buf) < 24 || binary.LittleEndian.Uint32(buf) != 0xa1b2c3d4 {
		b.Fatal("not a little-endian microsecond pcap file")
	}
	lt := uint16(binary.LittleEndian.Uint32(buf[20:]))
	var pkts [][]byte
	for off := 24; off+16 <= len(buf); {
		caplen := int(binary.LittleEndian.Uint32(buf[off+8:]))
		if off+16+caplen > len(buf) {
			break
		}
		pkts = append(pkts, buf[off+16:off+16+caplen])
		off += 16 + caplen
	}
	m := mask.Default()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		tr := NewTracker(m)
		var fr link.Frame
		for i, p := range pkts {
			if link.Parse(lt, p, &fr) == nil {
				tr.Packet(uint64(i+1), &fr)
			}
		}
		tr.Finish()
	}
}
