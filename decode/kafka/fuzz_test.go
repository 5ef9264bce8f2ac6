package kafka

import (
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// FuzzKafka feeds a connection: chunks whose control byte picks the
// direction, injects gaps and advances time. Nothing may panic, every
// exchange must end final, and the kept frame stays bounded.
func FuzzKafka(f *testing.F) {
	seeds := [][]byte{
		cat(req(keyApiVersions, 3, 0, "kgo", []byte{4, 'k', 'g', 'o', 2, '1', 0})),
		cat(req(keyProduce, 3, 1, "c", produceV3("t", 1, batch(2, 80))), resp(keyProduce, 3, 1, produceRespV3("t", 3))),
		cat(req(keyMetadata, 1, 2, "c", cat(i32(1), str("t"))), resp(keyMetadata, 1, 2, cat(i32(0), i32(-1), i32(1), i16(0), str("t"), []byte{0}, i32(0)))),
		cat(req(keySaslHandshake, 0, 1, "c", str("PLAIN")), resp(keySaslHandshake, 0, 1, cat(i16(0), i32(0))), frame([]byte("\x00u\x00p"))),
	}
	for _, s := range seeds {
		var in []byte
		for len(s) > 0 {
			n := min(len(s), 40)
			in = append(in, 0, byte(n))
			in = append(in, s[:n]...)
			s = s[n:]
		}
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := New()
		_ = p.Detect(&decode.Flow{Transport: "tcp"}, 0, b)
		c := newFakeConn(t)
		h := p.New(c)
		ts := t0
		for len(b) >= 2 {
			ctl, n := b[0], min(int(b[1]), len(b)-2)
			ts = ts.Add(time.Millisecond)
			dir := decode.Direction(ctl & 1)
			if ctl&0x80 != 0 {
				h.Gap(dir, int(ctl&0x7f)-1, ts)
			}
			h.Data(dir, b[2:2+n], ts)
			b = b[2+n:]
		}
		h.End(decode.FlowClosed, ts)
		for _, x := range c.Exchanges() {
			if !x.State.Final() {
				t.Fatalf("exchange %d left %s", x.ID, x.State)
			}
		}
		if hh := h.(*handler); cap(hh.sides[0].buf) > 4*minKeep || cap(hh.sides[1].buf) > 4*minKeep {
			t.Fatal("frame buffer unbounded")
		}
	})
}

// FuzzBodies runs every request and response body parser on arbitrary
// bytes, for every known key and version (the stream fuzzer rarely gets
// that deep).
func FuzzBodies(f *testing.F) {
	f.Add(int16(0), int16(3), produceV3("t", 1, batch(2, 80)))
	f.Add(int16(3), int16(12), []byte{0, 0, 0, 0, 2, 1, 0})
	f.Add(int16(1), int16(13), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2})
	f.Fuzz(func(t *testing.T, key, ver int16, body []byte) {
		c := newFakeConn(t)
		h := New().New(c).(*handler)
		for _, flex := range []bool{false, true} {
			h.parseRequest(key, ver, &reader{b: body, flex: flex}, &summary{})
			h.parseResponse(key, ver, &reader{b: body, flex: flex}, &summary{})
		}
		_ = walkBatches(body)
	})
}
