package ws

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// frame encodes one frame; a non-nil key masks the payload (client
// frames).
func frame(fin bool, rsv, op byte, key []byte, payload []byte) []byte {
	b0 := op | rsv<<4
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	var m byte
	if key != nil {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, m|byte(n))
	case n <= 0xffff:
		out = append(out, m|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, m|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	p := append([]byte(nil), payload...)
	if key != nil {
		out = append(out, key...)
		for i := range p {
			p[i] ^= key[i%4]
		}
	}
	return append(out, p...)
}

var key = []byte{0x37, 0xfa, 0x21, 0x3d}

// deflater compresses messages as a permessage-deflate sender does: a
// sync flush per message, the 00 00 ff ff tail stripped. With takeover
// one compressor (and its history) serves every message.
type deflater struct {
	buf      bytes.Buffer
	w        *flate.Writer
	takeover bool
}

func (d *deflater) compress(t testing.TB, msg []byte) []byte {
	if d.w == nil || !d.takeover {
		d.buf.Reset()
		w, err := flate.NewWriter(&d.buf, flate.BestCompression)
		if err != nil {
			t.Fatal(err)
		}
		d.w = w
	}
	d.buf.Reset()
	if _, err := d.w.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := d.w.Flush(); err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(d.buf.Bytes())
	if !bytes.HasSuffix(out, tail) {
		t.Fatalf("flush did not end with the sync marker: % x", out[max(0, len(out)-8):])
	}
	return out[:len(out)-4]
}

// feed is one Data (or Gap, when data is nil) call.
type feed struct {
	dir  decode.Direction
	data []byte
	gap  int
}

func run(t testing.TB, lim decode.Limits, feeds []feed, end decode.FlowState) *fakeConn {
	c := newFakeConn(t, lim)
	h := New().New(c)
	for i, f := range feeds {
		if f.data == nil {
			h.Gap(f.dir, f.gap, at(i))
			continue
		}
		h.Data(f.dir, f.data, at(i))
	}
	h.End(end, at(len(feeds)))
	c.checkImmutable()
	return c
}

// describe renders the parts of every exchange for comparisons.
func describe(c *fakeConn) string {
	var b strings.Builder
	for id := uint64(1); id <= c.nextID; id++ {
		x := c.latest[id]
		if x == nil {
			continue
		}
		fmt.Fprintf(&b, "#%d %s %q\n", id, x.State, x.Error)
		for _, p := range x.Response.Parts {
			d := string(p.Data)
			if len(d) > 40 {
				d = fmt.Sprintf("%s…(%d)", d[:20], len(d))
			}
			fmt.Fprintf(&b, "  %s client=%v size=%d comp=%v trunc=%v %q\n", p.Kind, p.FromClient, p.Size, p.Compressed, p.Truncated, d)
		}
	}
	return b.String()
}

// conversation is a full exchange of frames in both directions.
func conversation() []feed {
	big := bytes.Repeat([]byte("0123456789"), 7000) // 64-bit length
	mid := bytes.Repeat([]byte("m"), 200)           // 16-bit length
	return []feed{
		{decode.ClientToServer, frame(true, 0, opText, key, []byte("hello")), 0},
		{decode.ServerToClient, frame(true, 0, opText, nil, []byte("hi there")), 0},
		{decode.ClientToServer, frame(true, 0, opBinary, key, mid), 0},
		{decode.ServerToClient, frame(true, 0, opBinary, nil, big), 0},
		{decode.ServerToClient, frame(true, 0, opPing, nil, []byte("p1")), 0},
		{decode.ClientToServer, frame(true, 0, opPong, key, []byte("p1")), 0},
		{decode.ClientToServer, frame(true, 0, opClose, key, append([]byte{0x03, 0xe8}, "bye"...)), 0},
		{decode.ServerToClient, frame(true, 0, opClose, nil, []byte{0x03, 0xe8}), 0},
	}
}

func TestConversation(t *testing.T) {
	c := run(t, decode.Limits{}, conversation(), decode.FlowClosed)
	want := `#1 complete ""
  text client=true size=5 comp=false trunc=false "hello"
  text client=false size=8 comp=false trunc=false "hi there"
  binary client=true size=200 comp=false trunc=false "mmmmmmmmmmmmmmmmmmmm…(200)"
  binary client=false size=70000 comp=false trunc=false "01234567890123456789…(70000)"
  ping client=false size=2 comp=false trunc=false "p1"
  pong client=true size=2 comp=false trunc=false "p1"
  close client=true size=5 comp=false trunc=false "1000 (normal closure) bye"
  close client=false size=2 comp=false trunc=false "1000 (normal closure)"
`
	if got := describe(c); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	x := c.latest[1]
	if x.Request.BodySize != 5+200+2+5 || x.Response.BodySize != 8+70000+2+2 || x.Request.First != at(0) || x.Response.Last != at(7) {
		t.Errorf("sizes %d/%d times %v %v", x.Request.BodySize, x.Response.BodySize, x.Request.First, x.Response.Last)
	}
	if len(c.pubs) != 9 {
		t.Errorf("%d publications, want one per Data call that completed a frame and a final one", len(c.pubs))
	}
}

// TestSplitsDoNotMatter feeds the same bytes cut at every byte and at
// random places; the frames must come out the same.
func TestSplitsDoNotMatter(t *testing.T) {
	want := describe(run(t, decode.Limits{}, conversation(), decode.FlowClosed))
	var perByte []feed
	for _, f := range conversation() {
		for i := range f.data {
			perByte = append(perByte, feed{f.dir, f.data[i : i+1], 0})
		}
	}
	if got := describe(run(t, decode.Limits{}, perByte, decode.FlowClosed)); got != want {
		t.Errorf("byte by byte:\n%s", got)
	}
	rng := rand.New(rand.NewSource(1))
	var cuts []feed
	for _, f := range conversation() {
		for d := f.data; len(d) > 0; {
			n := min(len(d), 1+rng.Intn(40))
			cuts = append(cuts, feed{f.dir, d[:n], 0})
			d = d[n:]
		}
	}
	if got := describe(run(t, decode.Limits{}, cuts, decode.FlowClosed)); got != want {
		t.Errorf("random cuts:\n%s", got)
	}
}

func TestFragmentation(t *testing.T) {
	feeds := []feed{
		{decode.ClientToServer, frame(false, 0, opText, key, []byte("Hel")), 0},
		{decode.ClientToServer, frame(true, 0, opPing, key, nil), 0},
		{decode.ClientToServer, frame(false, 0, opContinuation, key, []byte("lo, ")), 0},
		{decode.ClientToServer, frame(true, 0, opContinuation, key, []byte("world")), 0},
	}
	got := describe(run(t, decode.Limits{}, feeds, decode.FlowOpen))
	want := `#1 partial ""
  text client=true size=3 comp=false trunc=false "Hel"
  ping client=true size=0 comp=false trunc=false ""
  continuation client=true size=4 comp=false trunc=false "lo, "
  continuation client=true size=5 comp=false trunc=false "world"
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestDeflate(t *testing.T) {
	msgs := []string{
		`{"event":"price","symbol":"ACME","bid":101.25,"ask":101.5}`,
		`{"event":"price","symbol":"ACME","bid":101.5,"ask":101.75}`,
		`{"event":"price","symbol":"INIT","bid":12.5,"ask":12.75}`,
		strings.Repeat("history is shared across messages; ", 40),
	}
	for _, takeover := range []bool{true, false} {
		t.Run(fmt.Sprintf("takeover=%v", takeover), func(t *testing.T) {
			srv := &deflater{takeover: takeover}
			cli := &deflater{takeover: takeover}
			var feeds []feed
			var want strings.Builder
			want.WriteString("#1 partial \"\"\n")
			for i, m := range msgs {
				z := srv.compress(t, []byte(m))
				feeds = append(feeds, feed{decode.ServerToClient, frame(true, 1<<2, opText, nil, z), 0})
				fmt.Fprintf(&want, "  text client=false size=%d comp=true trunc=false %q\n", len(z), clip(m))
				// The client answers with a compressed message split in
				// two frames: RSV1 on the first only.
				zc := cli.compress(t, []byte("ack "+m))
				h := len(zc) / 2
				feeds = append(feeds,
					feed{decode.ClientToServer, frame(false, 1<<2, opText, key, zc[:h]), 0},
					feed{decode.ClientToServer, frame(true, 0, opContinuation, key, zc[h:]), 0})
				fmt.Fprintf(&want, "  text client=true size=%d comp=true trunc=false \"\"\n", h)
				fmt.Fprintf(&want, "  continuation client=true size=%d comp=true trunc=false %q\n", len(zc)-h, clip("ack "+m))
				if takeover && i > 0 && len(z) > len(m)/2 && len(m) < 100 {
					t.Errorf("message %d compressed to %d bytes: the history was not used", i, len(z))
				}
			}
			c := run(t, decode.Limits{}, feeds, decode.FlowOpen)
			if got := describe(c); got != want.String() {
				t.Errorf("got:\n%s\nwant:\n%s", got, want.String())
			}
			x := c.latest[1]
			var total int64
			for _, m := range msgs {
				total += int64(len(m))
			}
			if x.Response.DecodedSize != total || x.Response.DecodeError != "" {
				t.Errorf("decoded %d want %d (%s)", x.Response.DecodedSize, total, x.Response.DecodeError)
			}
		})
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%s…(%d)", s[:20], len(s))
	}
	return s
}

// TestDeflateBomb sends 32 MiB of zeros compressed to a few tens of KiB:
// inflation stops at MaxDecoded and keeps MaxBody bytes.
func TestDeflateBomb(t *testing.T) {
	d := &deflater{}
	var raw bytes.Buffer
	w, _ := flate.NewWriter(&raw, flate.BestSpeed)
	zero := make([]byte, 1<<20)
	for i := 0; i < 32; i++ {
		w.Write(zero)
	}
	w.Flush()
	z := raw.Bytes()[:raw.Len()-4]
	lim := decode.Limits{MaxBody: 1 << 20, MaxDecoded: 4 << 20}
	next := d.compress(t, []byte("after the bomb"))
	c := run(t, lim, []feed{
		{decode.ServerToClient, frame(true, 1<<2, opBinary, nil, z), 0},
		{decode.ServerToClient, frame(true, 1<<2, opText, nil, next), 0},
	}, decode.FlowOpen)
	x := c.latest[1]
	p := x.Response.Parts[0]
	if len(p.Data) != lim.MaxBody || !p.Truncated || x.Response.DecodedSize > lim.MaxDecoded+int64(len("after the bomb")) {
		t.Errorf("bomb: kept %d truncated %v decoded %d", len(p.Data), p.Truncated, x.Response.DecodedSize)
	}
	if !strings.Contains(x.Response.DecodeError, "cap") {
		t.Errorf("decode error %q", x.Response.DecodeError)
	}
	// A message that does not refer to the lost history still decodes.
	if got := string(x.Response.Parts[1].Data); got != "after the bomb" {
		t.Errorf("next message %q", got)
	}
}

func TestGaps(t *testing.T) {
	f := frame(true, 0, opText, nil, bytes.Repeat([]byte("x"), 100))
	g := frame(true, 0, opText, nil, []byte("after"))
	// A known gap inside a payload is skipped exactly.
	c := run(t, decode.Limits{}, []feed{
		{decode.ServerToClient, f[:40], 0},
		{decode.ServerToClient, nil, 30},
		{decode.ServerToClient, f[70:], 0},
		{decode.ServerToClient, g, 0},
	}, decode.FlowClosed)
	x := c.latest[1]
	if len(x.Response.Parts) != 2 || !x.Response.Parts[0].Truncated || string(x.Response.Parts[1].Data) != "after" || x.State != decode.Partial {
		t.Errorf("known gap:\n%s", describe(c))
	}
	// An unknown gap loses framing until a segment starts with a frame.
	c = run(t, decode.Limits{}, []feed{
		{decode.ServerToClient, f[:40], 0},
		{decode.ServerToClient, nil, -1},
		{decode.ServerToClient, f[70:], 0},
		{decode.ServerToClient, g, 0},
	}, decode.FlowClosed)
	x = c.latest[1]
	if len(x.Response.Parts) != 1 || string(x.Response.Parts[0].Data) != "after" || x.State != decode.Partial {
		t.Errorf("unknown gap:\n%s", describe(c))
	}
}

func TestRollover(t *testing.T) {
	var feeds []feed
	for i := 0; i < 25; i++ {
		feeds = append(feeds, feed{decode.ServerToClient, frame(true, 0, opText, nil, []byte(fmt.Sprint(i))), 0})
	}
	c := run(t, decode.Limits{MaxParts: 10}, feeds, decode.FlowOpen)
	if c.nextID != 3 {
		t.Fatalf("%d exchanges, want 3", c.nextID)
	}
	n := 0
	for id := uint64(1); id <= 3; id++ {
		x := c.latest[id]
		if !x.State.Final() {
			t.Errorf("exchange %d left %s", id, x.State)
		}
		for _, p := range x.Response.Parts {
			if string(p.Data) != fmt.Sprint(n) {
				t.Errorf("exchange %d part %q, want %d", id, p.Data, n)
			}
			n++
		}
	}
	if n != 25 || c.latest[1].State != decode.Complete || c.latest[3].State != decode.Partial {
		t.Errorf("%d frames; states %s %s", n, c.latest[1].State, c.latest[3].State)
	}
}

func TestProtocolErrors(t *testing.T) {
	long := []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1}
	c := run(t, decode.Limits{}, []feed{
		{decode.ServerToClient, frame(true, 0, 3, nil, []byte("r")), 0},
		{decode.ServerToClient, frame(true, 0, opContinuation, nil, []byte("c")), 0},
		{decode.ServerToClient, frame(false, 0, opPing, nil, nil), 0},
		{decode.ServerToClient, long, 0},
		// The next segment starts with a frame: framing resumes.
		{decode.ServerToClient, frame(true, 0, opText, nil, []byte("found")), 0},
	}, decode.FlowClosed)
	x := c.latest[1]
	if len(x.Response.Parts) != 4 || string(x.Response.Parts[3].Data) != "found" || x.Error != "reserved opcode 3" || x.State != decode.Partial {
		t.Errorf("parts/error:\n%s", describe(c))
	}
	if len(c.notes) < 4 {
		t.Errorf("notes %q", c.notes)
	}
}
