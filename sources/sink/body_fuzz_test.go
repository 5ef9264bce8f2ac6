package sink

import (
	"testing"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tapview/tapview/proto/gloo"
	"github.com/tapview/tapview/sources/taptrace/tracetest"
)

// FuzzHTTPBody feeds arbitrary POST bodies to both decoders: they never
// panic, and whatever they accept holds real traces.
func FuzzHTTPBody(f *testing.F) {
	w := tracetest.HTTPBuffered(1, "/f", 200, "x")
	b, _ := proto.Marshal(&gloo.TapRequest{TraceData: w})
	f.Add(b, false)
	j, _ := protojson.Marshal(w)
	f.Add(j, true)
	tj, _ := protojson.Marshal(&gloo.TapRequest{TraceData: tracetest.SocketBuffered(2)})
	f.Add(append(j, tj...), true)
	f.Fuzz(func(t *testing.T, body []byte, json bool) {
		decode := decodeBinaryBody
		if json {
			decode = func(b []byte) ([]*tapv3.TraceWrapper, error) { return decodeJSONBody(b, 1<<16) }
		}
		ws, err := decode(body)
		if err != nil {
			return
		}
		if len(ws) == 0 {
			t.Fatal("accepted a body without traces")
		}
		for _, w := range ws {
			if w.GetTrace() == nil {
				t.Fatal("accepted a trace without a kind")
			}
			_ = estimateSize(w)
		}
	})
}
