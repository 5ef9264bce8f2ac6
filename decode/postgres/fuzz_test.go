package postgres

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

// FuzzPostgres feeds a connection: arbitrary bytes cut into chunks by
// control bytes that also choose the direction and inject gaps; a
// leading flag byte marks the flow joined mid-stream. Every exchange
// ends final exactly once, bodies stay within the cap, nothing panics.
func FuzzPostgres(f *testing.F) {
	seeds := [][]byte{
		startup("user", "app", "database", "db"),
		append(typed('R', "\x00\x00\x00\x00"), typed('Z', "I")...),
		typed('Q', "SELECT 1; SELECT 2\x00"),
		append(append(typed('P', "s1\x00SELECT $1\x00\x00\x00"), typed('B', "\x00s1\x00\x00\x00\x00\x01\x00\x00\x00\x01x\x00\x00")...), typed('E', "\x00\x00\x00\x00\x00")...),
		append(typed('T', "\x00\x01a\x00"+string(make([]byte, 18))), typed('D', "\x00\x01\x00\x00\x00\x01x")...),
		typed('E', "SERROR\x00VERROR\x00C42P01\x00Mno\x00\x00"),
		be32(be32(nil, 8), codeSSL),
	}
	if b, err := os.ReadFile(filepath.Join(recDir, "postgres.pcap")); err == nil && len(b) > 8192 {
		seeds = append(seeds, b[4096:5120])
	}
	for i, s := range seeds {
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
				h.Gap(dir, n, ts)
			} else {
				h.Data(dir, b[2:2+n], ts)
			}
			b = b[2+n:]
		}
		h.End(decode.FlowClosed, ts)
		for _, e := range c.Finals() {
			for _, m := range []*decode.Message{e.Request, e.Response} {
				if m != nil && len(m.Body) > fuzzLimit {
					t.Fatalf("body of %d bytes over the %d cap", len(m.Body), fuzzLimit)
				}
			}
			if e.Query == nil {
				t.Fatal("exchange without Query")
			}
		}
	})
}
