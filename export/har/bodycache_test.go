package har

import (
	"testing"

	"github.com/tapview/tapview/decode/body"
)

// TestEncoderCachesBodiesByContent checks that a body with the same
// bytes as one decoded for an earlier entry (a different slice, as a
// later exchange carries it) is served from the cache, equal to a fresh
// decode, while other bytes, codings or caps, failed decodes and bodies
// over the cache's size are decoded again.
func TestEncoderCachesBodiesByContent(t *testing.T) {
	doc := `{"pets":["rex","tom"],"owner":"ann"}`
	zipped := gz(t, doc)
	var c Encoder
	defer c.Close()
	a, err := c.Decode([]string{"gzip"}, zipped, 1<<20)
	if err != nil || string(a) != doc {
		t.Fatalf("decode: %q %v", a, err)
	}
	c.forget() // as at the end of an entry
	again := append([]byte(nil), zipped...)
	b, err := c.Decode([]string{"gzip"}, again, 1<<20)
	if err != nil || &b[0] != &a[0] {
		t.Fatalf("the same content was inflated again (%v)", err)
	}
	c.forget()
	other := gz(t, doc+" ")
	if d, _ := c.Decode([]string{"gzip"}, other, 1<<20); len(d) > 0 && &d[0] == &a[0] {
		t.Error("other bytes were answered from the cache")
	}
	c.forget()
	if d, _ := c.Decode([]string{"gzip"}, again, 10); len(d) > 0 && &d[0] == &a[0] {
		t.Error("another cap was answered from the cache")
	}
	c.forget()
	if d, _ := c.Decode([]string{"x-gzip"}, again, 1<<20); len(d) > 0 && &d[0] == &a[0] {
		t.Error("other codings were answered from the cache")
	}
	c.forget()
	bad := append([]byte(nil), zipped[:10]...)
	_, err1 := c.Decode([]string{"gzip"}, bad, 1<<20)
	c.forget()
	want, werr := body.Decode([]string{"gzip"}, bad, 1<<20)
	got, err2 := c.Decode([]string{"gzip"}, bad, 1<<20)
	if (err1 == nil) != (werr == nil) || (err2 == nil) != (werr == nil) || string(got) != string(want) {
		t.Errorf("a short body: %q %v then %v, want %q %v", got, err1, err2, want, werr)
	}
}
