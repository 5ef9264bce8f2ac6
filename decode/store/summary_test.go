package store

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// sampleExchanges covers every kind of exchange a summary must carry.
func sampleExchanges() []*decode.Exchange {
	t0 := time.Date(2026, 12, 7, 5, 0, 0, 123456789, time.UTC)
	c := netip.MustParseAddrPort("10.1.2.3:41000")
	s := netip.MustParseAddrPort("[2001:db8::1]:443")
	h1 := &decode.Exchange{
		ID: 7, FlowID: 3, Source: "trace.pcap", Proto: "http/1.1", Version: 4,
		Client: c, Server: s, Start: t0, End: t0.Add(1500 * time.Microsecond),
		Request: &decode.Message{First: t0, Last: t0.Add(10 * time.Microsecond), Method: "POST",
			Target: "/api/v1/items?id=42", Host: "shop.example", Proto: "HTTP/1.1",
			Headers: []decode.Header{{Name: "Authorization", Value: "Bearer x"}, {Name: "content-type", Value: "application/json"}},
			Body:    []byte(`{"a":1}`), BodySize: 7, DecodedSize: 7},
		Response: &decode.Message{First: t0.Add(time.Millisecond), Last: t0.Add(1500 * time.Microsecond), Status: 503,
			Reason: "Service Unavailable", Proto: "HTTP/1.1", Headers: []decode.Header{{Name: "Content-Encoding", Value: "gzip"}},
			Body: []byte{1, 2, 3}, BodySize: 3000, Truncated: true, ContentEncoding: []string{"gzip"},
			DecodedSize: -1, DecodeError: "unexpected EOF", Masked: true, Trailers: []decode.Header{{Name: "x", Value: "y"}}},
		Interim: []*decode.Message{{Status: 100, Reason: "Continue", First: t0.Add(5 * time.Microsecond), Last: t0.Add(6 * time.Microsecond)}},
		State:   decode.Partial, Error: "gap of 100 bytes", Upstream: netip.MustParseAddrPort("192.0.2.9:8080"),
		TLS: true, SNI: "shop.example", Pod: "web-1", Namespace: "shop", Leg: decode.LegApp, Direction: decode.DirOutbound, Linked: 9,
	}
	grpc := &decode.Exchange{
		ID: 1 << 40, FlowID: 12, Source: "sink", Proto: "grpc", Version: 1, Start: t0, End: t0.Add(time.Second),
		Client: c, Server: netip.MustParseAddrPort("127.0.0.1:50051"), StreamID: 5, State: decode.Complete,
		Request:  &decode.Message{Method: "POST", Target: "/pkg.Svc/Watch", Host: "localhost:50051", Scheme: "http", Proto: "HTTP/2", Parts: []decode.Part{{Kind: "grpc", Data: []byte{1}}}},
		Response: &decode.Message{Status: 200, Proto: "HTTP/2"},
		GRPC:     &decode.GRPCInfo{Service: "pkg.Svc", Method: "Watch", Status: -1, Message: "cancelled by client"},
	}
	dns := &decode.Exchange{
		ID: 8, FlowID: 4, Source: "trace.pcap", Proto: "dns", Version: 2, Start: t0, End: t0,
		State: decode.Orphan,
		DNS:   &decode.DNSInfo{ID: 0xbeef, Name: "example.com", Type: "AAAA", Rcode: "NOERROR", Answers: []string{"2001:db8::1", "2001:db8::2"}},
	}
	pg := &decode.Exchange{
		ID: 10, FlowID: 5, Source: "db.pcap", Proto: "postgres", Version: 1, Start: t0, End: t0.Add(time.Millisecond),
		State:   decode.Complete,
		Request: &decode.Message{Method: "SELECT", Target: "SELECT * FROM missing WHERE id = $1"},
		Query:   &decode.QueryInfo{ReplyError: `ERROR: relation "missing" does not exist`, ErrorCode: "42P01", Rows: -1, Database: "app", User: "alice", Batches: 2, RecordBytes: 77, ClientID: "c"},
	}
	empty := &decode.Exchange{ID: 9, State: decode.Reset}
	return []*decode.Exchange{h1, grpc, dns, pg, empty}
}

// slimOf is what a summary must give back for e: everything but bodies,
// parts, trailers and headers other than Content-Type.
func slimOf(e *decode.Exchange) *decode.Exchange {
	c := *e
	c.Slim = true
	c.Request, c.Response = slimMsg(e.Request), slimMsg(e.Response)
	if e.Interim != nil {
		c.Interim = make([]*decode.Message, len(e.Interim))
		for i, m := range e.Interim {
			c.Interim[i] = &decode.Message{Status: m.Status, Reason: m.Reason, First: m.First, Last: m.Last}
		}
	}
	return &c
}

func slimMsg(m *decode.Message) *decode.Message {
	if m == nil {
		return nil
	}
	c := *m
	c.Body, c.Parts, c.Trailers, c.Headers = nil, nil, nil, nil
	if ct := m.HeaderValue("content-type"); ct != "" {
		c.Headers = []decode.Header{{Name: "Content-Type", Value: ct}}
	}
	return &c
}

// normalize makes times comparable with DeepEqual (summaries decode in
// the local zone, without monotonic readings).
func normalize(e *decode.Exchange) {
	utc := func(t *time.Time) {
		if !t.IsZero() {
			*t = t.UTC()
		}
	}
	utc(&e.Start)
	utc(&e.End)
	for _, m := range append([]*decode.Message{e.Request, e.Response}, e.Interim...) {
		if m != nil {
			utc(&m.First)
			utc(&m.Last)
		}
	}
}

func TestSummaryRoundTrip(t *testing.T) {
	in := newInterner()
	for _, e := range sampleExchanges() {
		b := appendSummary(nil, in, e)
		got, err := decodeSummary(in.snapshot(), b)
		if err != nil {
			t.Fatalf("exchange %d: %v", e.ID, err)
		}
		want := slimOf(e)
		normalize(got)
		normalize(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("exchange %d:\n got %+v\nwant %+v", e.ID, got, want)
			if got.Request != nil && want.Request != nil {
				t.Errorf("request:\n got %+v\nwant %+v", *got.Request, *want.Request)
			}
			if got.Response != nil && want.Response != nil {
				t.Errorf("response:\n got %+v\nwant %+v", *got.Response, *want.Response)
			}
		}
	}
}

// TestSummaryCoversFields fails when decode.Exchange or decode.Message
// gain a field: decide whether summaries carry it (appendSummary and
// decoder.into) and list it here.
func TestSummaryCoversFields(t *testing.T) {
	check := func(typ reflect.Type, known string) {
		var names []string
		for i := 0; i < typ.NumField(); i++ {
			names = append(names, typ.Field(i).Name)
		}
		if got := join(names); got != known {
			t.Errorf("%s fields changed:\n got %s\nwant %s", typ.Name(), got, known)
		}
	}
	check(reflect.TypeOf(decode.Exchange{}), "ID FlowID Source Proto Version Client Server Start End Request Response Interim State Error Upstream StreamID TLS SNI GRPC DNS Query Pod Namespace Leg Direction Linked Slim")
	check(reflect.TypeOf(decode.Message{}), "First Last Method Target Host Scheme Status Reason Proto Headers Trailers Body BodySize Truncated ContentEncoding DecodedSize DecodeError Parts Masked")
}

func join(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out
}

func TestSummaryRejectsCorruptBytes(t *testing.T) {
	in := newInterner()
	b := appendSummary(nil, in, sampleExchanges()[0])
	for n := 0; n < len(b); n++ {
		// Every prefix either fails or decodes without panicking.
		_, _ = decodeSummary(in.snapshot(), b[:n])
	}
	if _, err := decodeSummary(in.snapshot(), b[:len(b)/2]); err == nil {
		t.Error("half a summary decoded without error")
	}
}

// TestSummarySize keeps summaries compact: the target is about 300
// bytes an HTTP/1 exchange in memory all told; the summary itself must be
// well under that once hosts and addresses are interned.
func TestSummarySize(t *testing.T) {
	in := newInterner()
	e := sampleExchanges()[0]
	_ = appendSummary(nil, in, e) // first time fills the intern table
	n := len(appendSummary(nil, in, e))
	if n > 120 {
		t.Errorf("HTTP/1 summary takes %d bytes, want <= 120", n)
	}
	t.Logf("HTTP/1 summary with every optional field: %d bytes", n)
	plain := httpExchange(1000, "{}")
	_ = appendSummary(nil, in, plain)
	if n := len(appendSummary(nil, in, plain)); n > 64 {
		t.Errorf("plain HTTP/1 summary takes %d bytes, want <= 64", n)
	} else {
		t.Logf("plain HTTP/1 summary: %d bytes", n)
	}
}

func FuzzDecodeSummary(f *testing.F) {
	in := newInterner()
	for _, e := range sampleExchanges() {
		f.Add(appendSummary(nil, in, e))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeSummary(in.snapshot(), b)
		if err == nil && e == nil {
			t.Fatal("nil exchange without error")
		}
	})
}
