package grpc

import (
	"bytes"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// FuzzSplitter feeds arbitrary bytes in arbitrary chunks (and skips) and
// checks that splitting never panics, keeps within its limits, and gives
// the same messages as feeding the stream in one piece when nothing was
// skipped.
func FuzzSplitter(f *testing.F) {
	f.Add(frame(false, helloMsg("Clement", 1)), []byte{3, 1, 7}, false)
	f.Add(append(frame(true, []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}), frame(false, nil)...), []byte{1}, true)
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 1, 2}, []byte{2, 200}, false)
	f.Fuzz(func(t *testing.T, stream, plan []byte, gzipped bool) {
		enc := ""
		if gzipped {
			enc = "gzip"
		}
		lim := decode.Limits{MaxBody: 512, MaxParts: 8, MaxDecoded: 4096}
		whole := NewSplitter(enc, lim, nil)
		want := whole.Flush(whole.Write(nil, stream, time.Time{}))

		s := NewSplitter(enc, lim, nil)
		var parts []decode.Part
		rest, skipped := stream, false
		for i := 0; len(rest) > 0; i++ {
			n := 1
			if len(plan) > 0 {
				n = int(plan[i%len(plan)])%97 + 1
			}
			n = min(n, len(rest))
			if len(plan) > 0 && plan[i%len(plan)] == 0xff {
				parts = s.Skip(parts, int64(n), time.Time{})
				skipped = true
			} else {
				parts = s.Write(parts, rest[:n], time.Time{})
			}
			rest = rest[n:]
		}
		parts = s.Flush(parts)
		if len(parts) > lim.MaxParts {
			t.Fatalf("%d parts over MaxParts", len(parts))
		}
		total := 0
		for _, p := range parts {
			total += len(p.Data)
			if p.Size < 0 || p.Kind != Name {
				t.Fatalf("bad part %+v", p)
			}
		}
		if total > lim.MaxBody {
			t.Fatalf("kept %d bytes over MaxBody", total)
		}
		if skipped {
			return
		}
		if len(parts) != len(want) {
			t.Fatalf("chunked gave %d parts, whole gave %d", len(parts), len(want))
		}
		for i := range parts {
			if !bytes.Equal(parts[i].Data, want[i].Data) || parts[i].Truncated != want[i].Truncated || parts[i].Size != want[i].Size {
				t.Fatalf("part %d differs: %+v vs %+v", i, parts[i], want[i])
			}
		}
	})
}
