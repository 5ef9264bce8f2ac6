package har

import (
	"testing"

	"github.com/tapview/tapview/decode"
)

// TestEncoderRemembersDecodedBodies checks that a body decoded through
// the Encoder (as the masker does) is not inflated again by the entry:
// the same input gives the very same decoded bytes until Entry ends,
// which forgets them.
func TestEncoderRemembersDecodedBodies(t *testing.T) {
	zipped := gz(t, `{"pets":["rex"]}`)
	var c Encoder
	a, err := c.Decode([]string{"gzip"}, zipped, 1<<20)
	if err != nil || string(a) != `{"pets":["rex"]}` {
		t.Fatalf("decode: %q %v", a, err)
	}
	b, _ := c.Decode([]string{"gzip"}, zipped, 1<<20)
	if &a[0] != &b[0] {
		t.Error("the same body was decoded twice")
	}
	if d, _ := c.Decode([]string{"gzip"}, zipped, 10); &d[0] == &a[0] {
		t.Error("a different cap must not share the result")
	}
	e := &decode.Exchange{Proto: "http/1.1", State: decode.Complete,
		Request:  &decode.Message{Method: "GET", Target: "/", Proto: "HTTP/1.1"},
		Response: &decode.Message{Status: 200, Proto: "HTTP/1.1", Body: zipped, BodySize: int64(len(zipped)), ContentEncoding: []string{"gzip"}}}
	if _, err := c.Entry(e, nil); err != nil {
		t.Fatal(err)
	}
	if c.n != 0 {
		t.Errorf("%d bodies still remembered after the entry", c.n)
	}
	// Past the entry, the same bytes come from the content cache
	// (bodycache_test.go), no longer from the per-entry memo.
	if f, _ := c.Decode([]string{"gzip"}, zipped, 1<<20); string(f) != `{"pets":["rex"]}` || c.n != 1 {
		t.Errorf("after the entry: %q, %d remembered for the next entry", f, c.n)
	}
}
