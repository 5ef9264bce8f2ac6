package http2

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// truth is what each stream of a synthetic connection really carried.
type truth struct {
	req, resp map[uint32][]decode.Header
	body      map[uint32][]byte
}

// busyWire builds a connection with n streams whose headers lean on the
// HPACK dynamic table (repeated custom fields), bodies of text, and
// interleaved responses.
func busyWire(t testing.TB, n int) (*wire, truth) {
	w := newWire(t).start()
	tr := truth{req: map[uint32][]decode.Header{}, resp: map[uint32][]decode.Header{}, body: map[uint32][]byte{}}
	kv := func(pairs ...string) []decode.Header {
		var hs []decode.Header
		for i := 0; i < len(pairs); i += 2 {
			hs = append(hs, decode.Header{Name: pairs[i], Value: pairs[i+1]})
		}
		return hs
	}
	for i := range n {
		sid := uint32(2*i + 1)
		req := []string{":method", "GET", ":scheme", "http", ":authority", "shop.example", ":path", fmt.Sprintf("/item/%d", i),
			"x-tenant", fmt.Sprintf("tenant-%d", i%3), "cookie", "session=abcdef0123456789"}
		w.headers(c2s, sid, true, req...)
		tr.req[sid] = kv(req...)
		if i > 0 {
			prev := sid - 2
			body := []byte(strings.Repeat(fmt.Sprintf("item %d text; ", i-1), 20+i))
			resp := []string{":status", "200", "content-type", "text/plain", "x-cache", []string{"HIT", "MISS"}[i%2], "x-item", fmt.Sprint(i - 1)}
			w.headers(s2c, prev, false, resp...)
			w.data(s2c, prev, false, body[:len(body)/2])
			w.data(s2c, prev, true, body[len(body)/2:])
			tr.resp[prev], tr.body[prev] = kv(resp...), body
		}
	}
	return w, tr
}

// checkTruth fails if any exchange shows a header, method, path, status
// or body byte the stream did not carry: a partial view is allowed, a
// wrong one is not.
func checkTruth(t *testing.T, label string, xs []*decode.Exchange, tr truth) {
	t.Helper()
	for _, x := range xs {
		sid := x.StreamID
		if x.Request != nil {
			want := tr.req[sid]
			if !isSubsequence(x.Request.Headers, want) {
				t.Fatalf("%s: stream %d request headers %q not from %q", label, sid, x.Request.Headers, want)
			}
			if x.Request.Target != "" && x.Request.Target != headerValue(want, ":path") {
				t.Fatalf("%s: stream %d target %q", label, sid, x.Request.Target)
			}
		}
		if x.Response != nil {
			want := tr.resp[sid]
			if !isSubsequence(x.Response.Headers, want) {
				t.Fatalf("%s: stream %d response headers %q not from %q", label, sid, x.Response.Headers, want)
			}
			if x.Response.Status != 0 && x.Response.Status != 200 {
				t.Fatalf("%s: stream %d status %d", label, sid, x.Response.Status)
			}
			if b := x.Response.Body; len(b) > 0 && !bytes.Contains(tr.body[sid], b) {
				t.Fatalf("%s: stream %d body %q is not part of the real body", label, sid, b)
			}
		}
	}
}

// checkLate checks a stream that started after the join or gap: method,
// path, status and body are known; fields referring to table entries
// inserted before are unknown, which makes it partial, and says so.
func checkLate(t *testing.T, label string, x *decode.Exchange) {
	t.Helper()
	if x.Request == nil || x.Response == nil || x.Request.Method != "GET" || x.Request.Target == "" || x.Response.Status != 200 ||
		x.Response.Truncated || int64(len(x.Response.Body)) != x.Response.BodySize || x.Response.BodySize == 0 {
		t.Fatalf("%s: late stream %s", label, dump(x))
	}
	if x.State != decode.Complete && !strings.Contains(x.Error, "header fields unknown (HPACK state not seen)") {
		t.Fatalf("%s: late stream %s %q", label, x.State, x.Error)
	}
}

// TestJoinedMidStream starts the capture at many points, cutting into the
// first segment of each direction, and checks that everything shown is
// true and that later streams decode whole.
func TestJoinedMidStream(t *testing.T) {
	w, tr := busyWire(t, 40)
	var complete, partial int
	for k := 5; k < len(w.chunks)-10; k += 3 {
		for _, cut := range []int{0, 1, 4, 9, 13} {
			c := newFakeConn(t)
			c.flow.Partial = true
			p := New()
			h := p.New(c)
			ts := fakeTime()
			started := [2]bool{}
			for _, ch := range w.chunks[k:] {
				data := ch.data
				if !started[ch.dir] {
					started[ch.dir] = true
					data = data[min(cut, len(data)):]
				}
				h.Data(ch.dir, data, ts())
			}
			h.End(decode.FlowClosed, ts())
			c.out.checkFinal()
			xs := byStream(c.out.exchanges())
			label := fmt.Sprintf("join at chunk %d cut %d", k, cut)
			checkTruth(t, label, xs, tr)
			if c.swaps != 0 {
				t.Fatalf("%s: orientation was right, but %d swaps", label, c.swaps)
			}
			for _, x := range xs {
				if x.State == decode.Complete {
					complete++
				} else {
					partial++
				}
			}
			// The last streams started after the join: everything but the
			// fields that refer to table entries inserted before it.
			checkLate(t, label, xs[len(xs)-2])
		}
	}
	if complete == 0 || partial == 0 {
		t.Fatalf("%d complete, %d partial", complete, partial)
	}
}

// TestJoinedReversed gives the server's bytes as the client's (a capture
// without the SYN, server speaking first): the handler swaps directions.
func TestJoinedReversed(t *testing.T) {
	w, tr := busyWire(t, 10)
	c := newFakeConn(t)
	c.flow.Partial = true
	h := New().New(c)
	ts := fakeTime()
	for _, ch := range w.chunks[8:] {
		dir := ch.dir
		if c.swaps == 0 {
			dir = dir.Reverse() // until the handler swaps, as decode/tcp does
		}
		h.Data(dir, ch.data, ts())
	}
	h.End(decode.FlowClosed, ts())
	if c.swaps != 1 {
		t.Fatalf("%d swaps, want 1", c.swaps)
	}
	xs := byStream(c.out.exchanges())
	checkTruth(t, "reversed", xs, tr)
	x := xs[len(xs)-2]
	checkLate(t, "reversed", x)
	if x.Client != c.flow.Client || x.Server != c.flow.Server {
		t.Fatalf("after the swap: client %v vs flow %v", x.Client, c.flow.Client)
	}
}

// TestUnknownGap loses bytes of unknown size in the middle of the
// client's direction: the handler finds the next frame, forgets HPACK
// state, and shows only true values afterwards.
func TestUnknownGap(t *testing.T) {
	w, tr := busyWire(t, 30)
	p := New()
	c := newFakeConn(t)
	h := p.New(c)
	ts := fakeTime()
	var dropped int
	for i, ch := range w.chunks {
		if ch.dir == c2s && i > 30 && i < 50 {
			if dropped == 0 {
				h.Data(ch.dir, ch.data[:7], ts())
				h.Gap(ch.dir, -1, ts())
			}
			dropped++
			continue
		}
		h.Data(ch.dir, ch.data, ts())
	}
	h.End(decode.FlowClosed, ts())
	c.out.checkFinal()
	xs := byStream(c.out.exchanges())
	checkTruth(t, "unknown gap", xs, tr)
	if st := p.Stats(); st.Resyncs != 1 || st.UnknownFields == 0 {
		t.Fatalf("stats %+v", st)
	}
	var unknownNoted bool
	for _, x := range xs {
		if strings.Contains(x.Error, "unknown (HPACK state not seen)") {
			unknownNoted = true
			if x.State != decode.Partial {
				t.Fatalf("stream with unknown fields is %s", x.State)
			}
		}
	}
	if !unknownNoted {
		t.Fatal("no stream reported unknown header fields after the gap")
	}
	checkLate(t, "after the gap", xs[len(xs)-2])
}

func TestStreamLimit(t *testing.T) {
	w := newWire(t).start()
	for i := range maxStreams + 20 {
		w.get(uint32(2*i+1), "/")
	}
	p := New()
	c := newFakeConn(t)
	h := p.New(c)
	ts := fakeTime()
	for _, ch := range w.chunks {
		h.Data(ch.dir, ch.data, ts())
	}
	if n := len(h.(*handler).streams); n > maxStreams {
		t.Fatalf("%d streams tracked", n)
	}
	h.End(decode.FlowClosed, ts())
	evicted := 0
	for _, x := range c.out.exchanges() {
		if strings.Contains(x.Error, "too many open streams") {
			evicted++
		}
	}
	if evicted != 20 {
		t.Fatalf("%d evicted, want 20", evicted)
	}
}

func TestHeaderBlockTooLarge(t *testing.T) {
	w := newWire(t).start()
	big := strings.Repeat("x", 3000)
	w.headers(c2s, 1, true, ":method", "GET", ":path", "/big", "x-big", big, "x-big2", big)
	w.ok(1, "")
	w.get(3, "/after")
	w.ok(3, "ok")
	c := newFakeConn(t)
	c.lim = decode.Limits{MaxHeaderBytes: 4096}
	xs := only(t, w.run(New(), c, decode.FlowClosed), 2)
	if x := xs[0]; x.State != decode.Partial || !strings.Contains(x.Error, "header block lost") || x.Request.Target != "" {
		t.Fatalf("oversized block: %s", dump(x))
	}
	// The table was forgotten: the next request's fields that referred
	// to it are unknown, the rest is right.
	if x := xs[1]; x.Request.Target != "/after" || x.Response.Status != 200 || string(x.Response.Body) != "ok" {
		t.Fatalf("next stream: %s", dump(x))
	}
}

func TestMalformedFramesAreNotes(t *testing.T) {
	w := newWire(t).start()
	w.get(1, "/")
	// A HEADERS frame with padding longer than its payload, a SETTINGS
	// frame of bad length, then a frame type this parser does not know.
	w.raw(c2s, []byte{0, 0, 2, 1, 0x0c, 0, 0, 0, 3, 9, 0x82})
	w.raw(c2s, []byte{0, 0, 5, 4, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5})
	w.raw(c2s, []byte{0, 0, 3, 0xfa, 0, 0, 0, 0, 1, 'x', 'y', 'z'})
	w.get(5, "/after")
	w.ok(1, "a")
	w.ok(5, "b")
	c := newFakeConn(t)
	p := New()
	xs := w.run(p, c, decode.FlowClosed).exchanges()
	if len(c.notes) < 2 {
		t.Fatalf("notes %q", c.notes)
	}
	byID := map[uint32]*decode.Exchange{}
	for _, x := range xs {
		byID[x.StreamID] = x
	}
	if x := byID[1]; x == nil || x.State != decode.Complete {
		t.Fatalf("stream before the damage: %v", x)
	}
	if x := byID[3]; x == nil || x.State != decode.Partial || !strings.Contains(x.Error, "header block lost") {
		t.Fatalf("damaged stream: %v", x)
	}
	// The lost block may have inserted HPACK entries, so the table was
	// forgotten: the next request shows what does not depend on it.
	if x := byID[5]; x == nil || x.Request.Target != "/after" || string(x.Response.Body) != "b" || x.State != decode.Partial {
		t.Fatalf("stream after the damage: %v", x)
	}
	if p.Stats().Resyncs != 0 {
		t.Fatalf("boundaries known from the preface were given up")
	}
}

// fakeTime is used by several files' tests; keep time import used.
var _ = time.Millisecond
