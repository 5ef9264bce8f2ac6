package spill

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
)

var t0 = time.Date(2026, 12, 7, 5, 0, 0, 123456789, time.UTC)

// jsonBody returns about n bytes of JSON, the typical API response body.
func jsonBody(n int, seed int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"items":[`)
	for i := 0; sb.Len() < n-40; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":%d,"name":"item-%d","ok":true}`, seed*1000+i, i)
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

// http1Exchange is a typical keep-alive HTTP/1.1 exchange with a 2 KB JSON
// response, numbered so tests can tell records apart.
func http1Exchange(id int) *decode.Exchange {
	start := t0.Add(time.Duration(id) * time.Millisecond)
	body := jsonBody(2048, id)
	return &decode.Exchange{
		ID: uint64(id), FlowID: uint64(id/10 + 1), Source: "capture.pcap", Proto: "http/1.1", Version: 2,
		Client: netip.MustParseAddrPort("10.0.0.5:51234"), Server: netip.MustParseAddrPort("10.0.0.9:8080"),
		Start: start, End: start.Add(3 * time.Millisecond),
		Request: &decode.Message{
			First: start, Last: start.Add(time.Microsecond),
			Method: "GET", Target: fmt.Sprintf("/api/v1/items?page=%d", id), Host: "api.internal:8080",
			Proto: "HTTP/1.1",
			Headers: []decode.Header{
				{Name: "Host", Value: "api.internal:8080"}, {Name: "User-Agent", Value: "wrk/4.2"},
				{Name: "Accept", Value: "application/json"}, {Name: "Authorization", Value: "Bearer abc.def.ghi"},
			},
			DecodedSize: 0,
		},
		Response: &decode.Message{
			First: start.Add(2 * time.Millisecond), Last: start.Add(3 * time.Millisecond),
			Status: 200, Reason: "OK", Proto: "HTTP/1.1",
			Headers: []decode.Header{
				{Name: "Server", Value: "nginx/1.27"}, {Name: "Date", Value: "Mon, 07 Dec 2026 05:00:00 GMT"},
				{Name: "Content-Type", Value: "application/json"}, {Name: "Content-Length", Value: fmt.Sprint(len(body))},
				{Name: "Connection", Value: "keep-alive"},
			},
			Body: body, BodySize: int64(len(body)), DecodedSize: int64(len(body)),
		},
		State: decode.Complete,
	}
}

// samples covers every protocol shape the decoders produce, and the nil
// and empty corners of each.
func samples() []*decode.Exchange {
	chunked := http1Exchange(7)
	chunked.Response.Headers = append(chunked.Response.Headers, decode.Header{Name: "Transfer-Encoding", Value: "chunked"}, decode.Header{Name: "transfer-encoding", Value: "chunked"})
	chunked.Response.Trailers = []decode.Header{{Name: "X-Checksum", Value: "abc"}}
	chunked.Response.ContentEncoding = []string{"gzip", "br"}
	chunked.Response.DecodedSize = -1
	chunked.Response.DecodeError = "brotli: corrupt input"
	chunked.Response.Truncated = true
	chunked.Response.BodySize = 1 << 40
	chunked.Response.Masked = true

	interim := http1Exchange(8)
	interim.Request.Method = "POST"
	interim.Request.Headers = append(interim.Request.Headers, decode.Header{Name: "Expect", Value: "100-continue"})
	interim.Request.Body = []byte{}
	interim.Interim = []*decode.Message{{Status: 100, Reason: "Continue", Proto: "HTTP/1.1", First: t0, Last: t0}, nil, {}}

	h2 := &decode.Exchange{
		ID: 1 << 62, FlowID: 3, Source: "pod/web-1", Proto: "h2", Version: 1 << 40,
		Client: netip.MustParseAddrPort("[fe80::1%eth0]:443"), Server: netip.MustParseAddrPort("[2001:db8::1]:8443"),
		Upstream: netip.MustParseAddrPort("[::ffff:10.1.2.3]:9000"),
		Start:    t0, End: t0.Add(time.Second), StreamID: 1<<31 - 1, TLS: true, SNI: "api.example.com",
		Request: &decode.Message{Method: "GET", Target: "/", Host: "api.example.com", Scheme: "https", Proto: "HTTP/2",
			Headers: []decode.Header{{Name: ":method", Value: "GET"}, {Name: "", Value: ""}}},
		Response: &decode.Message{Status: 503, Proto: "HTTP/2", Headers: []decode.Header{}, Trailers: []decode.Header{}, ContentEncoding: []string{}},
		State:    decode.Reset, Error: "RST_STREAM: REFUSED_STREAM",
		Pod: "web-1", Namespace: "prod", Leg: decode.LegNetwork, Direction: decode.DirInbound, Linked: 42, Slim: true,
	}

	grpc := &decode.Exchange{
		ID: 4, Proto: "grpc", Client: netip.AddrPortFrom(netip.Addr{}, 7), Start: t0, End: t0,
		Request: &decode.Message{Method: "POST", Target: "/pkg.Svc/Stream", Proto: "HTTP/2", Parts: []decode.Part{
			{Time: t0, Kind: "grpc", Data: []byte{1, 2, 3}, Size: 3},
			{Time: t0.Add(time.Nanosecond), Kind: "grpc", Compressed: true, Truncated: true, Data: []byte{}, Size: 1 << 20},
			{Kind: "grpc"},
		}},
		Response: &decode.Message{Status: 200, Parts: []decode.Part{}, Trailers: []decode.Header{{Name: "grpc-status", Value: "13"}}},
		GRPC:     &decode.GRPCInfo{Service: "pkg.Svc", Method: "Stream", Status: -1, Message: "internal: ünïcödé \x00 bytes"},
		State:    decode.Partial,
	}

	dns := &decode.Exchange{
		ID: 5, Proto: "dns", Client: netip.MustParseAddrPort("192.168.1.2:53001"), Server: netip.MustParseAddrPort("8.8.8.8:53"),
		Start: t0, End: t0.Add(20 * time.Millisecond),
		DNS:   &decode.DNSInfo{ID: 65535, Name: "example.com.", Type: "AAAA", Rcode: "NOERROR", Answers: []string{"2001:db8::1", ""}},
		State: decode.Complete,
	}
	dnsEmpty := &decode.Exchange{ID: 6, Proto: "dns", DNS: &decode.DNSInfo{Answers: []string{}}, State: decode.Orphan}
	kafka := &decode.Exchange{ID: 7, Proto: "kafka", Request: &decode.Message{Method: "Produce", Target: "orders,audit"},
		Query: &decode.QueryInfo{ReplyError: "NOT_LEADER_OR_FOLLOWER", ErrorCode: "6", Rows: 12, ClientID: "rdkafka", Batches: 2, RecordBytes: 1 << 20, Database: "d", User: "u"}, State: decode.Complete}

	ws := &decode.Exchange{
		ID: 9, Proto: "ws", Start: t0, End: t0.Add(time.Hour),
		Request: &decode.Message{Parts: []decode.Part{
			{Time: t0, Kind: "text", Data: []byte("hello"), Size: 5, FromClient: true},
			{Time: t0.Add(time.Second), Kind: "binary", Data: []byte{0, 0xff}, Size: 2},
			{Time: t0.Add(2 * time.Second), Kind: "ping"},
			{Time: t0.Add(3 * time.Second), Kind: "close", Data: []byte{3, 0xe8}, Size: 2, FromClient: true},
		}},
		State: decode.Pending,
	}

	// Times at the edges of the nanosecond range and beyond, and a
	// non-UTC zone.
	odd := &decode.Exchange{
		ID: 10, Start: time.Unix(0, 0), End: time.Date(9999, 1, 1, 0, 0, 0, 1, time.UTC),
		Request:  &decode.Message{First: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), Last: time.Date(1600, 1, 1, 0, 0, 0, 999999999, time.FixedZone("X", 3600))},
		Response: &decode.Message{First: time.Unix(-1, 5), Last: time.Now()},
	}

	return []*decode.Exchange{
		http1Exchange(1), chunked, interim, h2, grpc, dns, dnsEmpty, kafka, ws, odd,
		{},                             // all zero
		{Request: &decode.Message{}},   // empty message
		{Interim: []*decode.Message{}}, // empty, not nil
	}
}

// normalize makes v comparable with a decoded copy: the codec returns
// times in UTC without a monotonic reading (documented on AppendExchange).
func normalize(v any) {
	normalizeValue(reflect.ValueOf(v))
}

func normalizeValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			normalizeValue(v.Elem())
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			normalizeValue(v.Index(i))
		}
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			v.Set(reflect.ValueOf(t.UTC()))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				normalizeValue(v.Field(i))
			}
		}
	}
}
