package dns

import (
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/tapview/tapview/decode"
)

// seeds are real messages: queries, a rich response, mDNS-style ones.
func seeds(f *testing.F) [][]byte {
	return [][]byte{
		query(f, 1, "www.example.org.", dnsmessage.TypeA),
		richResponse(f, 2),
		answer(f, 3, "a.example.", [4]byte{1, 2, 3, 4}),
		{0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 3, 'f', 'o', 'o', 0, 0, 12, 0x80, 1, 0, 0, 0, 120, 0, 2, 0xc0, 12},
	}
}

// FuzzParseMessage checks that the wire parser never panics, stays
// inside its input and agrees with x/net on plain question names.
func FuzzParseMessage(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMessage(b)
		if m == nil {
			return
		}
		if m.end > len(b) || m.qEnd > m.end {
			t.Fatalf("offsets past the input: qEnd %d end %d len %d", m.qEnd, m.end, len(b))
		}
		for _, s := range m.sections {
			if len(s) > maxKeepLines {
				t.Fatalf("%d records kept", len(s))
			}
		}
		_ = sectionParts(m, time.Time{})
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		if _, err := p.Start(b); err != nil {
			return
		}
		for i := range m.questions {
			xq, err := p.Question()
			if err != nil {
				return
			}
			if plainName(m.questions[i].name) && xq.Name.String() != m.questions[i].name {
				t.Fatalf("question %d: %q, x/net %q", i, m.questions[i].name, xq.Name.String())
			}
		}
	})
}

// plainName reports a name of letters, digits, hyphens and dots only,
// whose presentation needs no escaping in either parser.
func plainName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// FuzzDatagram feeds a UDP conversation: the input is a sequence of
// datagrams, each prefixed by a direction/time byte and a 1-byte length.
func FuzzDatagram(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(append([]byte{0, byte(len(s))}, s...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := New()
		_ = p.Detect(&decode.Flow{Transport: "udp"}, 0, b)
		c := newFakeConn(t, "udp")
		h := p.NewDatagram(c)
		ts := t0
		for len(b) >= 2 {
			ctl, n := b[0], min(int(b[1]), len(b)-2)
			ts = ts.Add(time.Duration(ctl>>1) * 100 * time.Millisecond)
			h.Datagram(decode.Direction(ctl&1), b[2:2+n], ts)
			b = b[2+n:]
		}
		h.End(decode.FlowClosed, ts)
		for _, x := range c.Exchanges() {
			if !x.State.Final() {
				t.Fatalf("exchange %d left %s", x.ID, x.State)
			}
		}
	})
}

// FuzzStream feeds a TCP connection: arbitrary bytes cut into chunks by
// control bytes that also choose the direction and inject gaps.
func FuzzStream(f *testing.F) {
	for _, s := range seeds(f) {
		w := append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
		f.Add(append([]byte{0, byte(len(w))}, w...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := New()
		_ = p.Detect(&decode.Flow{Transport: "tcp"}, 0, b)
		c := newFakeConn(t, "tcp")
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
	})
}
