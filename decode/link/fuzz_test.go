package link

import (
	"testing"
	"time"

	"github.com/tapview/tapview/decode/link/corpustest"
)

// FuzzParse checks that Parse never panics, never reports offsets outside
// the data, and that fragments never break the Defragmenter's bounds.
func FuzzParse(f *testing.F) {
	for _, row := range corpustest.Manifest(f) {
		pkts := corpustest.Read(f, row["file"])
		for i := 0; i < len(pkts) && i < 3; i++ {
			f.Add(pkts[i].LinkType, pkts[i].Data)
		}
	}
	d := NewDefragmenter(DefragConfig{MaxDatagrams: 8, MaxBytes: 1 << 16})
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		var fr Frame
		if err := Parse(link, data, &fr); err != nil {
			return
		}
		if fr.PayloadOffset > len(data) || fr.PayloadOffset+len(fr.Payload) > len(data) ||
			fr.IPOffset > len(data) || fr.TransportOffset > len(data) {
			t.Fatalf("offsets outside data: %+v (len %d)", fr, len(data))
		}
		if len(fr.Payload) > fr.PayloadLen {
			t.Fatalf("captured payload %d > announced %d", len(fr.Payload), fr.PayloadLen)
		}
		if fr.Fragment {
			out, _ := d.Add(&fr, time.Unix(0, 0))
			if out != nil {
				var g Frame
				_ = ParseIP(out, &g)
			}
			if n, b := d.InFlight(); n > 8 || b > 1<<16 {
				t.Fatalf("defragmenter over bounds: %d, %d", n, b)
			}
		}
	})
}
