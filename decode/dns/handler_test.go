package dns

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/tapview/tapview/decode"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// answer is a response to a query for name with one A record.
func answer(t testing.TB, id uint16, name string, a [4]byte) []byte {
	return build(t, dnsmessage.Header{ID: id, Response: true, RecursionDesired: true, RecursionAvailable: true},
		[]dnsmessage.Question{q(name, dnsmessage.TypeA)},
		func(b *dnsmessage.Builder) error {
			if err := b.StartAnswers(); err != nil {
				return err
			}
			return b.AResource(rh(name, 30), dnsmessage.AResource{A: a})
		})
}

func flowWith(transport, client, server string) *decode.Flow {
	return &decode.Flow{Transport: transport, Client: netip.MustParseAddrPort(client), Server: netip.MustParseAddrPort(server)}
}

func TestDetect(t *testing.T) {
	p := New()
	udp := flowWith("udp", "10.0.0.1:40000", "10.0.0.2:9999")
	tcpf := flowWith("tcp", "10.0.0.1:40000", "10.0.0.2:9999")
	tcp53 := flowWith("tcp", "10.0.0.1:40000", "10.0.0.2:53")
	nbns := flowWith("udp", "10.0.0.1:137", "10.0.0.255:137")
	qry := query(t, 0x1234, "www.example.org.", dnsmessage.TypeA)
	long := query(t, 0x1234, strings.Repeat("abcdefghij.", 8)+"example.", dnsmessage.TypeA)
	prefixed := func(m []byte) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(m))), m...) }
	ntp := append([]byte{0x23, 0x02, 0x06, 0xe8}, make([]byte, 44)...)
	cases := []struct {
		name string
		f    *decode.Flow
		b    []byte
		want decode.Verdict
	}{
		{"udp query", udp, qry, decode.Yes},
		{"udp response", udp, richResponse(t, 9), decode.Yes},
		{"udp query with trailing bytes", udp, append(qry, 0, 0), decode.No},
		{"nbns port", nbns, qry, decode.No},
		{"udp cut query", udp, qry[:len(qry)-2], decode.No},
		{"ntp", udp, ntp, decode.No},
		{"http request", tcpf, []byte("GET / HTTP/1.1\r\nHost: example.org\r\n\r\n"), decode.No},
		{"tls client hello", tcpf, []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0, 1, 2, 3, 4, 5, 6}, decode.No},
		{"ssh banner", tcpf, []byte("SSH-2.0-OpenSSH_9.6\r\n"), decode.No},
		{"h2 preface", tcpf, []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), decode.No},
		{"tcp query", tcpf, prefixed(qry), decode.Yes},
		{"tcp query first bytes", tcpf, prefixed(qry)[:20], decode.NeedMore},
		{"tcp long name in probe, other port", tcpf, prefixed(long)[:64], decode.NeedMore},
		{"tcp long name in probe, port 53", tcp53, prefixed(long)[:64], decode.Yes},
		{"tcp response", tcpf, prefixed(richResponse(t, 3))[:64], decode.Yes},
		{"tcp bad length", tcpf, append([]byte{0, 5}, qry...), decode.No},
		{"udp payload on a tcp flow", tcpf, qry, decode.No},
	}
	for _, c := range cases {
		if got := p.Detect(c.f, decode.ClientToServer, c.b); got != c.want {
			t.Errorf("%s: got %v want %v", c.name, got, c.want)
		}
	}
}

func TestPairingOutOfOrderAndCase(t *testing.T) {
	c := newFakeConn(t, "udp")
	h := New().NewDatagram(c)
	h.Datagram(decode.ClientToServer, query(t, 1, "a.example.", dnsmessage.TypeA), at(0))
	h.Datagram(decode.ClientToServer, query(t, 2, "b.example.", dnsmessage.TypeA), at(1))
	// Same id, other question: a different query.
	h.Datagram(decode.ClientToServer, query(t, 1, "c.example.", dnsmessage.TypeA), at(2))
	// DNS 0x20: the server echoes the mixed-case name it was sent.
	h.Datagram(decode.ServerToClient, answer(t, 2, "B.Example.", [4]byte{2, 2, 2, 2}), at(10))
	h.Datagram(decode.ServerToClient, answer(t, 1, "c.example.", [4]byte{3, 3, 3, 3}), at(11))
	h.Datagram(decode.ServerToClient, answer(t, 1, "a.example.", [4]byte{1, 1, 1, 1}), at(12))
	h.End(decode.FlowClosed, at(20))
	got := map[string]string{}
	for _, x := range c.Exchanges() {
		if x.State != decode.Complete {
			t.Errorf("%s: state %s (%s)", x.DNS.Name, x.State, x.Error)
		}
		got[x.DNS.Name] = strings.Join(x.DNS.Answers, ",")
		if x.Latency() != x.Response.Last.Sub(x.Request.First) || x.Latency() <= 0 {
			t.Errorf("%s latency %v", x.DNS.Name, x.Latency())
		}
	}
	want := map[string]string{"a.example": "A 1.1.1.1", "b.example": "A 2.2.2.2", "c.example": "A 3.3.3.3"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pairs %v want %v", got, want)
	}
	// Each query is published pending, then once complete.
	if len(c.Published()) != 6 {
		t.Errorf("%d publications, want 6", len(c.Published()))
	}
}

func TestTimeoutAndEnd(t *testing.T) {
	c := newFakeConn(t, "udp")
	h := New().NewDatagram(c)
	h.Datagram(decode.ClientToServer, query(t, 1, "slow.example.", dnsmessage.TypeA), at(0))
	h.Datagram(decode.ClientToServer, query(t, 2, "late.example.", dnsmessage.TypeA), at(int(QueryTimeout/time.Millisecond)+1))
	// The first query timed out when the second arrived.
	first := c.Latest(1)
	if first.State != decode.Orphan || !strings.Contains(first.Error, "no response") {
		t.Errorf("timed-out query: %s %q", first.State, first.Error)
	}
	// Its late response is an orphan of its own.
	h.Datagram(decode.ServerToClient, answer(t, 1, "slow.example.", [4]byte{1, 2, 3, 4}), at(6000))
	if x := c.Latest(3); x == nil || x.State != decode.Orphan || x.Request != nil || x.Response == nil || x.DNS.Rcode != "NOERROR" {
		t.Errorf("late response: %+v", x)
	}
	h.End(decode.FlowReset, at(7000))
	if x := c.Latest(2); x.State != decode.Reset {
		t.Errorf("query pending at a reset: %s", x.State)
	}
}

func TestBounds(t *testing.T) {
	c := newFakeConn(t, "udp")
	h := New().NewDatagram(c)
	for i := 0; i < MaxPending+5; i++ {
		h.Datagram(decode.ClientToServer, query(t, uint16(i), "x.example.", dnsmessage.TypeA), at(0))
	}
	given := 0
	for _, x := range c.Exchanges() {
		if x.State == decode.Orphan {
			given++
		}
	}
	if given != 5 {
		t.Errorf("%d queries given up past MaxPending, want 5", given)
	}
	// mDNS: unsolicited announcements, id 0, no question.
	ann := build(t, dnsmessage.Header{Response: true, Authoritative: true}, nil, func(b *dnsmessage.Builder) error {
		if err := b.StartAnswers(); err != nil {
			return err
		}
		return b.PTRResource(rh("_http._tcp.local.", 120), dnsmessage.PTRResource{PTR: dnsmessage.MustNewName("printer._http._tcp.local.")})
	})
	m := newFakeConn(t, "udp")
	mh := New().NewDatagram(m)
	for i := 0; i < MaxOrphans+50; i++ {
		mh.Datagram(decode.ClientToServer, ann, at(i))
	}
	mh.End(decode.FlowTimedOut, at(100000))
	if len(m.Exchanges()) != MaxOrphans {
		t.Errorf("%d orphan exchanges, want %d", len(m.Exchanges()), MaxOrphans)
	}
	if x := m.Latest(1); x.DNS.Name != "_http._tcp.local" || x.DNS.Type != "PTR" || x.DNS.Answers[0] != "PTR printer._http._tcp.local." {
		t.Errorf("announcement summary %+v", x.DNS)
	}
	if len(m.Notes) != 1 || !strings.Contains(m.Notes[0], "50 more responses") {
		t.Errorf("notes %q", m.Notes)
	}
}

func TestSwapWhenQueryComesFromServerSide(t *testing.T) {
	c := newFakeConn(t, "udp")
	h := New().NewDatagram(c)
	h.Datagram(decode.ServerToClient, query(t, 5, "x.example.", dnsmessage.TypeA), at(0))
	if c.Swaps != 1 {
		t.Fatalf("swaps %d", c.Swaps)
	}
	h.Datagram(decode.ClientToServer, answer(t, 5, "x.example.", [4]byte{9, 9, 9, 9}), at(1))
	if x := c.Latest(1); x.State != decode.Complete || x.Client != netip.MustParseAddrPort("10.0.0.53:53") {
		t.Errorf("after swap: %s client %s", x.State, x.Client)
	}
}

func TestMalformedIsNoted(t *testing.T) {
	c := newFakeConn(t, "udp")
	h := New().NewDatagram(c)
	h.Datagram(decode.ClientToServer, []byte{1, 2, 3}, at(0))
	h.Datagram(decode.ClientToServer, []byte{1, 2, 3}, at(1))
	h.End(decode.FlowClosed, at(2))
	if len(c.Exchanges()) != 0 || len(c.Notes) != 2 || !strings.Contains(c.Notes[1], "2 malformed") {
		t.Errorf("exchanges %d notes %q", len(c.Exchanges()), c.Notes)
	}
}

func prefix(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	return out
}

func TestStreamFraming(t *testing.T) {
	q1, q2 := query(t, 1, "one.example.", dnsmessage.TypeA), query(t, 2, "two.example.", dnsmessage.TypeAAAA)
	r1, r2 := answer(t, 1, "one.example.", [4]byte{1, 1, 1, 1}), richResponse(t, 2)
	// richResponse asks for www.example.org; make its question match q2.
	q2 = query(t, 2, "www.example.org.", dnsmessage.TypeA)
	c := newFakeConn(t, "tcp")
	h := New().New(c)
	// Two pipelined queries in one segment; responses byte by byte.
	h.Data(decode.ClientToServer, prefix(q1, q2), at(0))
	for i, b := range prefix(r2, r1) {
		h.Data(decode.ServerToClient, []byte{b}, at(10+i))
	}
	h.End(decode.FlowClosed, at(5000))
	xs := c.Exchanges()
	if len(xs) != 2 {
		t.Fatalf("%d exchanges", len(xs))
	}
	for _, x := range xs {
		if x.State != decode.Complete {
			t.Errorf("%s: %s %s", x.DNS.Name, x.State, x.Error)
		}
	}
	if xs[1].Response.First != at(10) || xs[1].Response.Last != at(10+len(r2)+1) || xs[1].Response.BodySize != int64(len(r2)) {
		t.Errorf("byte-by-byte response times %v..%v size %d", xs[1].Response.First, xs[1].Response.Last, xs[1].Response.BodySize)
	}
	if got := xs[1].Response.Parts; len(got) != 4 || got[1].Kind != "answer" || !strings.Contains(string(got[1].Data), "IN SRV 1 2 5060 sip.example.org.") {
		t.Errorf("parts %+v", got)
	}
}

func TestStreamGapResync(t *testing.T) {
	q1, q2 := query(t, 1, "one.example.", dnsmessage.TypeA), query(t, 2, "two.example.", dnsmessage.TypeA)
	c := newFakeConn(t, "tcp")
	h := New().New(c)
	w := prefix(q1)
	h.Data(decode.ClientToServer, w[:10], at(0))
	h.Gap(decode.ClientToServer, 7, at(1))
	h.Data(decode.ClientToServer, w[17:], at(2)) // rest of the broken message: skipped
	h.Data(decode.ClientToServer, prefix(q2), at(3))
	h.Data(decode.ServerToClient, prefix(answer(t, 2, "two.example.", [4]byte{2, 2, 2, 2})), at(4))
	h.End(decode.FlowClosed, at(5))
	xs := c.Exchanges()
	if len(xs) != 1 || xs[0].DNS.Name != "two.example" || xs[0].State != decode.Complete {
		t.Fatalf("after resync: %+v", xs)
	}
	if len(c.Notes) != 2 || !strings.Contains(c.Notes[1], "skipped") {
		t.Errorf("notes %q", c.Notes)
	}
}

// TestQueueStaysBounded answers many queries behind one that never gets
// an answer: the bookkeeping must not grow with them.
func TestQueueStaysBounded(t *testing.T) {
	c := newFakeConn(t, "udp")
	h := New().NewDatagram(c).(*datagramHandler)
	h.Datagram(decode.ClientToServer, query(t, 0, "never.example.", dnsmessage.TypeA), at(0))
	for i := 1; i < 20000; i++ {
		name := fmt.Sprintf("n%d.example.", i)
		h.Datagram(decode.ClientToServer, query(t, uint16(i), name, dnsmessage.TypeA), at(0))
		h.Datagram(decode.ServerToClient, answer(t, uint16(i), name, [4]byte{1, 2, 3, 4}), at(0))
	}
	if n := len(h.p.queue); n > 4*MaxPending+1 {
		t.Errorf("queue holds %d entries", n)
	}
	if h.p.live != 1 || len(h.p.byKey) != 1 {
		t.Errorf("live %d keys %d", h.p.live, len(h.p.byKey))
	}
}

// TestStreamLateQuery: a gap in the querier's direction holds its later
// bytes back in reassembly, so a query arrives after its response (the
// suricata-verify dns-tcp-ts-gap capture); the two still pair. A
// response whose query never comes is an orphan once QueryTimeout of
// capture time passed, or at the end.
func TestStreamLateQuery(t *testing.T) {
	c := newFakeConn(t, "tcp")
	h := New().New(c)
	h.Data(decode.ClientToServer, prefix(query(t, 1, "one.example.", dnsmessage.TypeA)), at(0))
	h.Data(decode.ServerToClient, prefix(answer(t, 1, "one.example.", [4]byte{1, 1, 1, 1})), at(1))
	h.Data(decode.ServerToClient, prefix(answer(t, 2, "two.example.", [4]byte{2, 2, 2, 2})), at(3))
	h.Data(decode.ServerToClient, prefix(answer(t, 3, "three.example.", [4]byte{3, 3, 3, 3})), at(4))
	if n := len(c.Exchanges()); n != 1 {
		t.Fatalf("%d exchanges before the late query, want 1 (responses 2 and 3 held)", n)
	}
	h.Gap(decode.ClientToServer, 30, at(2))
	h.Data(decode.ClientToServer, prefix(query(t, 2, "two.example.", dnsmessage.TypeA)), at(2))
	h.End(decode.FlowClosed, at(6))
	xs := c.Exchanges()
	if len(xs) != 3 {
		t.Fatalf("%d exchanges, want 3", len(xs))
	}
	if x := xs[1]; x.DNS.Name != "two.example" || x.State != decode.Complete || x.Start != at(2) || x.End != at(3) {
		t.Errorf("late query: %s %s %s..%s", x.DNS.Name, x.State, x.Start, x.End)
	}
	if x := xs[2]; x.DNS.Name != "three.example" || x.State != decode.Orphan || x.Error != "no query seen" {
		t.Errorf("unasked response: %s %s %q", x.DNS.Name, x.State, x.Error)
	}

	// Held responses go out as orphans once later traffic is
	// QueryTimeout past them, and at most maxHeld are held.
	c = newFakeConn(t, "tcp")
	h = New().New(c)
	for i := range maxHeld + 1 {
		h.Data(decode.ServerToClient, prefix(answer(t, uint16(100+i), "x.example.", [4]byte{9, 9, 9, 9})), at(i))
	}
	if n := len(c.Exchanges()); n != 1 {
		t.Errorf("%d orphans after %d unasked responses, want 1 (maxHeld %d)", n, maxHeld+1, maxHeld)
	}
	h.Data(decode.ClientToServer, prefix(query(t, 7, "late.example.", dnsmessage.TypeA)), at(maxHeld+int(QueryTimeout/time.Millisecond)))
	if n := len(c.Exchanges()); n != maxHeld+2 {
		t.Errorf("%d exchanges after QueryTimeout, want every held response out and the query (%d)", n, maxHeld+2)
	}
}
