package http2

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/tapview/tapview/decode"
)

const (
	c2s = decode.ClientToServer
	s2c = decode.ServerToClient
)

func only(t *testing.T, out *collector, n int) []*decode.Exchange {
	t.Helper()
	xs := byStream(out.exchanges())
	if len(xs) != n {
		for _, x := range xs {
			t.Log(dump(x))
		}
		t.Fatalf("%d exchanges, want %d", len(xs), n)
	}
	return xs
}

func TestDetect(t *testing.T) {
	p := New()
	full := &decode.Flow{}
	joined := &decode.Flow{Partial: true}
	settings := []byte{0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100}
	winUpdate := []byte{0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0xff, 0}
	for _, c := range []struct {
		name  string
		flow  *decode.Flow
		first []byte
		want  decode.Verdict
	}{
		{"preface", full, []byte(preface + "\x00\x00"), decode.Yes},
		{"preface prefix", full, []byte("PRI * HTT"), decode.NeedMore},
		{"empty", full, nil, decode.NeedMore},
		{"http/1", full, []byte("GET / HTTP/1.1\r\n"), decode.No},
		{"frames on a full flow", full, settings, decode.No},
		{"frames joined", joined, append(append([]byte{}, settings...), winUpdate...), decode.Yes},
		{"one whole frame joined", joined, settings, decode.Yes},
		{"frame cut joined", joined, settings[:12], decode.NeedMore},
		{"short joined", joined, settings[:5], decode.NeedMore},
		{"tls joined", joined, []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}, decode.No},
		{"text joined", joined, []byte("SSH-2.0-OpenSSH_9.6\r\n"), decode.No},
		{"bad successor joined", joined, append(append([]byte{}, settings...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), decode.No},
	} {
		if got := p.Detect(c.flow, c2s, c.first); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestExchangeLifecycle(t *testing.T) {
	w := newWire(t).start()
	w.get(1, "/pets?limit=2")
	w.headers(s2c, 1, false, ":status", "200", "content-type", "application/json", "content-encoding", "identity")
	w.data(s2c, 1, false, []byte(`[{"id":1},`))
	w.do(s2c, func() error { return w.fr.WriteWindowUpdate(0, 100) })
	w.do(c2s, func() error { return w.fr.WritePing(false, [8]byte{1}) })
	w.data(s2c, 1, true, []byte(`{"id":2}]`))
	c := newFakeConn(t)
	p := New()
	out := w.run(p, c, decode.FlowClosed)
	x := only(t, out, 1)[0]
	if x.Proto != "h2" || x.StreamID != 1 || x.State != decode.Complete || x.Error != "" {
		t.Fatalf("%s", dump(x))
	}
	req, resp := x.Request, x.Response
	if req.Method != "GET" || req.Target != "/pets?limit=2" || req.Host != "example.test" || req.Scheme != "http" || req.Proto != "HTTP/2" {
		t.Errorf("request %+v", req)
	}
	if req.Headers[0] != (decode.Header{Name: ":method", Value: "GET"}) || req.HeaderValue("user-agent") != "wire-test" {
		t.Errorf("request headers (pseudo-headers kept, in order) %q", req.Headers)
	}
	if resp.Status != 200 || string(resp.Body) != `[{"id":1},{"id":2}]` || resp.BodySize != 19 || resp.DecodedSize != 19 {
		t.Errorf("response %d %q %d", resp.Status, resp.Body, resp.DecodedSize)
	}
	if !req.First.Before(resp.First) || !resp.First.Before(resp.Last) || x.End != resp.Last || x.Start != req.First {
		t.Errorf("timing: req %v resp %v..%v exchange %v..%v", req.First, resp.First, resp.Last, x.Start, x.End)
	}
	// Published on request headers, on response headers, and final.
	if out.pubs != 3 || x.Version != 3 {
		t.Errorf("%d publications, version %d", out.pubs, x.Version)
	}
	if st := p.Stats(); st.HeadersFrames != 2 || st.Streams != 1 || st.Frames != 10 {
		t.Errorf("stats %+v", st)
	}
}

func TestTrailersInterimPaddingContinuation(t *testing.T) {
	w := newWire(t).start()
	blk := w.block(c2s, ":method", "POST", ":scheme", "http", ":authority", "example.test", ":path", "/upload", "expect", "100-continue",
		"x-long", strings.Repeat("a", 200))
	// HEADERS with priority and padding, then two CONTINUATIONs.
	w.do(c2s, func() error {
		return w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: blk[:10], PadLength: 7,
			Priority: http2.PriorityParam{StreamDep: 0, Weight: 15}})
	})
	w.do(c2s, func() error { return w.fr.WriteContinuation(3, false, blk[10:50]) })
	w.do(c2s, func() error { return w.fr.WriteContinuation(3, true, blk[50:]) })
	w.headers(s2c, 3, false, ":status", "100")
	w.do(c2s, func() error { return w.fr.WriteDataPadded(3, false, []byte("hello "), make([]byte, 20)) })
	w.do(c2s, func() error { return w.fr.WritePriority(5, http2.PriorityParam{Weight: 1}) }) // idle stream: no exchange
	w.data(c2s, 3, false, []byte("world"))
	w.headers(c2s, 3, true, "x-checksum", "abc")
	w.headers(s2c, 3, false, ":status", "201")
	w.data(s2c, 3, false, []byte("created"))
	w.headers(s2c, 3, true, "x-trailer", "done")
	out := w.run(New(), newFakeConn(t), decode.FlowClosed)
	x := only(t, out, 1)[0]
	if x.State != decode.Complete || x.Error != "" {
		t.Fatalf("%s", dump(x))
	}
	if x.Request.HeaderValue("x-long") != strings.Repeat("a", 200) || string(x.Request.Body) != "hello world" {
		t.Errorf("request %q %q", x.Request.Headers, x.Request.Body)
	}
	if fmt.Sprint(x.Request.Trailers) != "[{x-checksum abc}]" || fmt.Sprint(x.Response.Trailers) != "[{x-trailer done}]" {
		t.Errorf("trailers %q %q", x.Request.Trailers, x.Response.Trailers)
	}
	if len(x.Interim) != 1 || x.Interim[0].Status != 100 || x.Response.Status != 201 || string(x.Response.Body) != "created" {
		t.Errorf("interim %v, response %d %q", x.Interim, x.Response.Status, x.Response.Body)
	}
	if headersFrames(x) != 5 {
		t.Errorf("HEADERS from the exchange: %d", headersFrames(x))
	}
}

func TestResetsAndGoaway(t *testing.T) {
	w := newWire(t).start()
	w.get(1, "/slow")
	w.do(c2s, func() error { return w.fr.WriteRSTStream(1, http2.ErrCodeCancel) })
	// The server finishes, then tells the client to stop sending.
	w.headers(c2s, 3, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/big")
	w.data(c2s, 3, false, []byte("part"))
	w.ok(3, "early answer")
	w.do(s2c, func() error { return w.fr.WriteRSTStream(3, http2.ErrCodeNo) })
	// A late frame on the finished stream opens nothing.
	w.data(c2s, 3, false, []byte("late"))
	w.get(5, "/a")
	w.get(7, "/b")
	w.get(9, "/c")
	w.do(s2c, func() error { return w.fr.WriteGoAway(5, http2.ErrCodeEnhanceYourCalm, []byte("slow down")) })
	w.ok(5, "a")
	w.get(11, "/d") // never answered: partial at End
	c := newFakeConn(t)
	out := w.run(New(), c, decode.FlowClosed)
	xs := only(t, out, 6)
	want := []struct {
		state decode.ExchangeState
		err   string
	}{
		{decode.Reset, "RST_STREAM CANCEL"},
		{decode.Complete, ""},
		{decode.Complete, ""},
		{decode.Reset, "GOAWAY ENHANCE_YOUR_CALM"},
		{decode.Reset, "GOAWAY ENHANCE_YOUR_CALM"},
		{decode.Partial, "no response seen"},
	}
	for i, x := range xs {
		if x.State != want[i].state || x.Error != want[i].err {
			t.Errorf("stream %d: %s %q, want %s %q", x.StreamID, x.State, x.Error, want[i].state, want[i].err)
		}
	}
	if len(c.notes) != 1 || !strings.Contains(c.notes[0], `GOAWAY ENHANCE_YOUR_CALM from server: "slow down"`) {
		t.Errorf("notes %q", c.notes)
	}
	// The same streams on a reset connection end as reset.
	out = w.run(New(), newFakeConn(t), decode.FlowReset)
	if x := only(t, out, 6)[5]; x.State != decode.Reset {
		t.Errorf("stream 11 on a reset connection: %s %q", x.State, x.Error)
	}
}

func TestPushPromise(t *testing.T) {
	w := newWire(t).start()
	w.get(1, "/")
	blk := w.block(s2c, ":method", "GET", ":scheme", "http", ":authority", "example.test", ":path", "/style.css")
	w.do(s2c, func() error {
		return w.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: blk, EndHeaders: true})
	})
	w.ok(1, "<html>")
	w.ok(2, "body{}")
	xs := only(t, w.run(New(), newFakeConn(t), decode.FlowClosed), 2)
	if p := xs[1]; p.StreamID != 2 || p.Request.Target != "/style.css" || string(p.Response.Body) != "body{}" || p.State != decode.Complete {
		t.Errorf("pushed stream: %s", dump(p))
	}
}

// TestAnySplit feeds the same connection in pieces of every size from 1
// byte: the result must not depend on how TCP cut the bytes.
func TestAnySplit(t *testing.T) {
	w := newWire(t).start()
	for i := uint32(1); i < 12; i += 2 {
		w.get(i, fmt.Sprintf("/item/%d", i))
	}
	for i := uint32(1); i < 12; i += 2 {
		w.do(s2c, func() error {
			return w.fr.WriteDataPadded(i, false, bytes.Repeat([]byte{byte(i)}, int(i)*10), make([]byte, i%3))
		})
	}
	for i := uint32(1); i < 12; i += 2 {
		w.headers(s2c, i, false, ":status", "200", "x-i", fmt.Sprint(i))
		w.data(s2c, i, true, []byte("end"))
	}
	var want string
	for n := 1; n <= 80; n++ {
		out := w.runSplit(New(), newFakeConn(t), n)
		var got strings.Builder
		for _, x := range byStream(out.exchanges()) {
			got.WriteString(dump(x))
		}
		if n == 1 {
			want = got.String()
			if !strings.Contains(want, "state=partial") || strings.Count(want, "stream=") != 6 {
				// DATA before HEADERS is kept, with the stream marked partial.
				t.Fatalf("unexpected result:\n%s", want)
			}
		} else if got.String() != want {
			t.Fatalf("split %d differs:\n%s\nvs split 1:\n%s", n, got.String(), want)
		}
	}
}

func TestKnownGapInsideData(t *testing.T) {
	w := newWire(t).start()
	w.get(1, "/file")
	w.headers(s2c, 1, false, ":status", "200")
	w.data(s2c, 1, true, []byte("0123456789abcdefghij"))
	w.get(3, "/next")
	w.ok(3, "fine")
	p := New()
	c := newFakeConn(t)
	h := p.New(c)
	ts := fakeTime()
	for i, ch := range w.chunks {
		if i == 7 { // the DATA frame: header, 5 bytes, a 10-byte gap, the rest
			h.Data(ch.dir, ch.data[:14], ts())
			h.Gap(ch.dir, 10, ts())
			h.Data(ch.dir, ch.data[24:], ts())
			continue
		}
		h.Data(ch.dir, ch.data, ts())
	}
	h.End(decode.FlowClosed, ts())
	xs := only(t, c.out, 2)
	if x := xs[0]; x.State != decode.Partial || string(x.Response.Body) != "01234" || x.Response.BodySize != 20 || !x.Response.Truncated {
		t.Errorf("gapped stream: %s", dump(x))
	}
	if x := xs[1]; x.State != decode.Complete || string(x.Response.Body) != "fine" {
		t.Errorf("stream after the gap: %s", dump(x))
	}
	if p.Stats().Resyncs != 0 {
		t.Errorf("a gap inside DATA must not lose sync")
	}
}

func fakeTime() func() time.Time {
	ts := time.Unix(1000, 0)
	return func() time.Time {
		ts = ts.Add(time.Millisecond)
		return ts
	}
}

// TestGRPCJoinedAfterRequestHeaders joins a gRPC call after its request
// HEADERS: the request DATA is kept as a body until the response's
// content type shows it is gRPC, then split into its message.
func TestGRPCJoinedAfterRequestHeaders(t *testing.T) {
	w := newWire(t).start()
	w.headers(c2s, 1, false, ":method", "POST", ":scheme", "http", ":authority", "svc", ":path", "/pets.v1.Store/Get", "content-type", "application/grpc")
	skip := len(w.chunks)
	msg := []byte{0, 0, 0, 0, 4, 0x08, 0x96, 0x01, 0x10}
	w.data(c2s, 1, true, msg)
	w.headers(s2c, 1, false, ":status", "200", "content-type", "application/grpc+proto")
	w.data(s2c, 1, false, append(append([]byte{}, msg...), msg...))
	w.headers(s2c, 1, true, "grpc-status", "3", "grpc-message", "bad%20id")
	c := newFakeConn(t)
	c.flow.Partial = true
	h := New().New(c)
	ts := fakeTime()
	for _, ch := range w.chunks[skip:] {
		h.Data(ch.dir, ch.data, ts())
	}
	h.End(decode.FlowClosed, ts())
	x := only(t, c.out, 1)[0]
	if x.Proto != "grpc" || x.GRPC == nil || x.GRPC.Status != 3 || x.GRPC.Message != "bad id" || x.GRPC.Method != "" {
		t.Fatalf("%s", dump(x))
	}
	if len(x.Request.Parts) != 1 || string(x.Request.Parts[0].Data) != string(msg[5:]) || len(x.Response.Parts) != 2 {
		t.Fatalf("messages %d/%d", len(x.Request.Parts), len(x.Response.Parts))
	}
	if x.State != decode.Partial || !strings.Contains(x.Error, "DATA before the stream's headers") {
		t.Fatalf("%s %q", x.State, x.Error)
	}
}
