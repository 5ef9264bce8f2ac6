package tracemask_test

import (
	"bytes"
	"io"
	"os"
	"testing"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/proto"

	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/export/tracemask"
	"github.com/tapview/tapview/export/tracemask/tracemasktest"
)

// BenchmarkMaskLeakTraces masks the leak corpus's traces (HTTP and
// socket, buffered and streamed) per iteration; b.SetBytes is their
// size in the file.
func BenchmarkMaskLeakTraces(b *testing.B) {
	var raw []byte
	for _, f := range []string{"taps-http.pb_length_delimited", "taps-socket.pb_length_delimited"} {
		d, err := os.ReadFile(leakDir + "/" + f)
		if err != nil {
			b.Fatal(err)
		}
		raw = append(raw, d...)
	}
	orig := tracemasktest.Read(b, bytes.NewReader(raw))
	m := mask.Default()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		w := tracemask.NewWriter(io.Discard, m)
		for _, t := range orig {
			if err := w.Write(proto.Clone(t).(*tapv3.TraceWrapper)); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
