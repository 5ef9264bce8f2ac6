package redis

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// fuzzLimit is the body cap the fuzz handler runs with, small so the
// bound is exercised.
const fuzzLimit = 512

// FuzzRedis feeds a connection: arbitrary bytes cut into chunks by
// control bytes that also choose the direction and inject gaps; a
// leading flag byte marks the flow joined mid-stream. Every exchange
// must end final, bodies stay within the cap, and nothing panics.
func FuzzRedis(f *testing.F) {
	seeds := [][]byte{
		[]byte("*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n"),
		[]byte("+OK\r\n"),
		[]byte("*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n"),
		[]byte(">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"),
		[]byte("|1\r\n$1\r\nk\r\n*2\r\n:1\r\n%1\r\n_\r\n#t\r\n$3\r\nabc\r\n"),
		[]byte("=9\r\ntxt:hello\r\n(123456789012345678901234567890\r\n,1.5\r\n!5\r\nERR x\r\n"),
		[]byte("SET k \"v\\x41\" 'w'\r\nGET k\r\n"),
	}
	if b, err := os.ReadFile(filepath.Join(recDir, "redis.pcap")); err == nil && len(b) > 4096 {
		// A slice of the real capture's payload bytes (frames and all).
		seeds = append(seeds, b[1024:2048])
	}
	for i, s := range seeds {
		// One chunk per seed direction: commands from the client, replies
		// from the server.
		dir := byte(i & 1)
		in := []byte{0}
		for len(s) > 0 {
			n := min(len(s), 255)
			in = append(in, dir, byte(n))
			in = append(in, s[:n]...)
			s = s[n:]
		}
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		_ = detect(b[1:])
		c := newFakeConn(t)
		c.Lim = decode.Limits{MaxBody: fuzzLimit}
		c.FlowInfo.Partial = b[0]&1 != 0
		h := New().New(c)
		b = b[1:]
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
		for _, e := range c.Exchanges() {
			if !e.State.Final() {
				t.Fatalf("exchange %d left %s", e.ID, e.State)
			}
			if e.Query == nil {
				t.Fatalf("exchange %d without Query", e.ID)
			}
			for _, m := range []*decode.Message{e.Request, e.Response} {
				if m != nil && len(m.Body) > fuzzLimit {
					t.Fatalf("body of %d bytes, cap %d", len(m.Body), fuzzLimit)
				}
			}
		}
	})
}
