package http2

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

// TestStreamBounds repeats HEADERS frames on one stream: 1xx responses
// past maxInterim and trailer fields past maxTrailerFields are counted in
// the exchange's Error, not kept.
func TestStreamBounds(t *testing.T) {
	const interims, trailerBlocks = 100, 300
	w := newWire(t).start()
	w.headers(c2s, 1, false, ":method", "POST", ":scheme", "http", ":authority", "example.test", ":path", "/upload")
	for i := 0; i < interims; i++ {
		w.headers(s2c, 1, false, ":status", "100")
	}
	w.data(c2s, 1, true, []byte("body"))
	w.headers(s2c, 1, false, ":status", "200")
	w.data(s2c, 1, false, []byte("ok"))
	for i := 0; i < trailerBlocks; i++ {
		w.headers(s2c, 1, i == trailerBlocks-1, "x-t", fmt.Sprint(i))
	}
	out := w.run(New(), newFakeConn(t), decode.FlowClosed)
	x := only(t, out, 1)[0]
	if len(x.Interim) != maxInterim || x.Response.Status != 200 || string(x.Response.Body) != "ok" {
		t.Fatalf("interim %d, response %d %q", len(x.Interim), x.Response.Status, x.Response.Body)
	}
	if len(x.Response.Trailers) != maxTrailerFields || x.Response.Trailers[maxTrailerFields-1].Value != fmt.Sprint(maxTrailerFields-1) {
		t.Fatalf("%d trailer fields kept, want the first %d", len(x.Response.Trailers), maxTrailerFields)
	}
	for _, want := range []string{
		fmt.Sprintf("%d more interim responses not kept", interims-maxInterim),
		fmt.Sprintf("%d trailer fields over the limit", trailerBlocks-maxTrailerFields),
	} {
		if !strings.Contains(x.Error, want) {
			t.Errorf("error %q lacks %q", x.Error, want)
		}
	}
}
