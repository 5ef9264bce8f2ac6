package grpc

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
	"github.com/tapview/tapview/decode/view"
)

func TestIsContentType(t *testing.T) {
	for v, want := range map[string]bool{
		"application/grpc":                true,
		"application/grpc+proto":          true,
		"Application/GRPC+json":           true,
		"application/grpc; charset=utf-8": true,
		" application/grpc ":              true,
		"application/grpc-web":            false,
		"application/grpc-web-text+proto": false,
		"application/grpcx":               false,
		"application/json":                false,
		"application/dns-message":         false,
		"":                                false,
		"application/grp":                 false,
	} {
		if got := IsContentType(v); got != want {
			t.Errorf("IsContentType(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestParsePath(t *testing.T) {
	for _, c := range []struct {
		path, svc, method string
		ok                bool
	}{
		{"/greet.GreetService/Greet", "greet.GreetService", "Greet", true},
		{"/grpc.health.v1.Health/Check", "grpc.health.v1.Health", "Check", true},
		{"/Svc/M", "Svc", "M", true},
		{"/a/b/c", "a/b", "c", true}, // service names cannot hold '/', the method is the last element
		{"/greet.GreetService/", "", "", false},
		{"//Method", "", "", false},
		{"greet.GreetService/Greet", "", "", false},
		{"/", "", "", false},
		{"", "", "", false},
		{"/index.html", "", "", false},
		{"/svc/m?x=1", "", "", false},
	} {
		s, m, ok := ParsePath(c.path)
		if s != c.svc || m != c.method || ok != c.ok {
			t.Errorf("ParsePath(%q) = %q %q %v, want %q %q %v", c.path, s, m, ok, c.svc, c.method, c.ok)
		}
	}
}

func TestStatusAndUnescape(t *testing.T) {
	trailers := []decode.Header{{Name: "grpc-status", Value: "5"}, {Name: "grpc-message", Value: "pet %22Luna%22 not found%3A %E2%9C%97 %zz 100%"}}
	code, msg := Status(trailers, nil)
	if code != 5 || msg != `pet "Luna" not found: ✗ %zz 100%` {
		t.Fatalf("Status = %d %q", code, msg)
	}
	// Trailers-only: the status is in the response headers.
	code, msg = Status(nil, []decode.Header{{Name: ":status", Value: "200"}, {Name: "Grpc-Status", Value: "0"}})
	if code != 0 || msg != "" {
		t.Fatalf("trailers-only Status = %d %q", code, msg)
	}
	// Trailers win over headers, and garbage is no status.
	code, _ = Status([]decode.Header{{Name: "grpc-status", Value: "14"}}, []decode.Header{{Name: "grpc-status", Value: "0"}})
	if code != 14 {
		t.Fatalf("trailers should win: %d", code)
	}
	for _, v := range []string{"", "x", "-3"} {
		if code, _ := Status([]decode.Header{{Name: "grpc-status", Value: v}}); code != -1 {
			t.Errorf("grpc-status %q gave %d, want -1", v, code)
		}
	}
	if code, _ := Status(); code != -1 {
		t.Fatalf("no headers: %d", code)
	}
}

func TestInfo(t *testing.T) {
	req := &decode.Message{Target: "/greet.GreetService/GreetManyTimes"}
	resp := &decode.Message{Headers: []decode.Header{{Name: ":status", Value: "200"}}, Trailers: []decode.Header{{Name: "grpc-status", Value: "3"}, {Name: "grpc-message", Value: "bad%20name"}}}
	g := Info(req, resp)
	if g.Service != "greet.GreetService" || g.Method != "GreetManyTimes" || g.Status != 3 || g.Message != "bad name" {
		t.Fatalf("Info = %+v", g)
	}
	if g := Info(nil, nil); g.Status != -1 || g.Service != "" {
		t.Fatalf("Info(nil, nil) = %+v", g)
	}
}

// frame prefixes payload with a gRPC message header.
func frame(compressed bool, payload []byte) []byte {
	b := make([]byte, 5, 5+len(payload))
	if compressed {
		b[0] = 1
	}
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

// helloMsg is a protobuf message with field 1 = name (string) and field 2
// = count (varint), like a greeting request.
func helloMsg(name string, n int) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, name)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(n))
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestSplitterAnyChunking(t *testing.T) {
	var stream []byte
	var want [][]byte
	for i, name := range []string{"Clement", "", "Luna", string(bytes.Repeat([]byte("x"), 3000))} {
		m := helloMsg(name, i)
		if name == "" {
			m = nil // an empty message is legal and common
		}
		want = append(want, m)
		stream = append(stream, frame(false, m)...)
	}
	t0 := time.Unix(100, 0)
	for _, chunk := range []int{1, 2, 3, 5, 7, 64, 4096, len(stream)} {
		s := NewSplitter("", decode.Limits{}, nil)
		var parts []decode.Part
		for off, i := 0, 0; off < len(stream); off, i = off+chunk, i+1 {
			end := min(off+chunk, len(stream))
			parts = s.Write(parts, stream[off:end], t0.Add(time.Duration(i)*time.Millisecond))
		}
		parts = s.Flush(parts)
		if len(parts) != len(want) || s.Messages() != len(want) {
			t.Fatalf("chunk %d: %d parts, %d messages, want %d", chunk, len(parts), s.Messages(), len(want))
		}
		for i, p := range parts {
			if !bytes.Equal(p.Data, want[i]) || p.Size != int64(len(want[i])) || p.Truncated || p.Compressed || p.Kind != "grpc" {
				t.Fatalf("chunk %d part %d: %+v", chunk, i, p)
			}
		}
		if chunk == 1 && !parts[1].Time.After(parts[0].Time) {
			t.Fatalf("part times should follow the chunk that started each message: %v %v", parts[0].Time, parts[1].Time)
		}
	}
}

func TestSplitterGzipAndRawProtobufView(t *testing.T) {
	m := helloMsg("Clement", 7)
	stream := append(frame(true, gz(t, m)), frame(false, m)...)
	var dec body.Decoder
	s := NewSplitter("gzip", decode.Limits{}, &dec)
	parts := s.Flush(s.Write(nil, stream, time.Unix(1, 0)))
	if len(parts) != 2 {
		t.Fatalf("%d parts", len(parts))
	}
	if !parts[0].Compressed || parts[1].Compressed {
		t.Fatalf("compressed flags: %v %v", parts[0].Compressed, parts[1].Compressed)
	}
	for i, p := range parts {
		if !bytes.Equal(p.Data, m) {
			t.Fatalf("part %d: %q, want %q", i, p.Data, m)
		}
		lines, ok := view.DecodeRawProtobuf(p.Data)
		if !ok || len(lines) != 2 || lines[0] != `1: "Clement"` || lines[1] != "2: 7" {
			t.Fatalf("part %d raw protobuf view: %q %v", i, lines, ok)
		}
	}
	if parts[0].Size != int64(len(gz(t, m))) {
		t.Fatalf("Size should be the wire size: %d", parts[0].Size)
	}
	// Without a decompressor the package-level decoder is used.
	s = NewSplitter("GZIP", decode.Limits{}, nil)
	if p := s.Write(nil, frame(true, gz(t, m)), time.Time{}); len(p) != 1 || !bytes.Equal(p[0].Data, m) {
		t.Fatalf("nil decompressor: %+v", p)
	}
	// An unknown coding leaves the wire bytes.
	s = NewSplitter("snappy", decode.Limits{}, nil)
	if p := s.Write(nil, frame(true, []byte("zz")), time.Time{}); len(p) != 1 || string(p[0].Data) != "zz" {
		t.Fatalf("unknown coding: %+v", p)
	}
}

func TestSplitterLimits(t *testing.T) {
	lim := decode.Limits{MaxParts: 3, MaxBody: 100}
	s := NewSplitter("", lim, nil)
	var stream []byte
	for range 5 {
		stream = append(stream, frame(false, bytes.Repeat([]byte{'a'}, 40))...)
	}
	parts := s.Write(nil, stream, time.Time{})
	if len(parts) != 3 || s.Messages() != 5 || s.Dropped() != 2 {
		t.Fatalf("%d parts, %d messages, %d dropped", len(parts), s.Messages(), s.Dropped())
	}
	// 100 bytes of budget: 40 + 40 + 20.
	if len(parts[0].Data) != 40 || len(parts[1].Data) != 40 || len(parts[2].Data) != 20 || !parts[2].Truncated || parts[1].Truncated {
		t.Fatalf("budget: %d %d %d (truncated %v)", len(parts[0].Data), len(parts[1].Data), len(parts[2].Data), parts[2].Truncated)
	}
	if parts[2].Size != 40 {
		t.Fatalf("Size must be the claimed size: %d", parts[2].Size)
	}

	// A forged 4 GiB length keeps nothing beyond the budget and never
	// completes; Flush reports it truncated.
	s = NewSplitter("", decode.Limits{MaxBody: 10}, nil)
	parts = s.Write(nil, []byte{0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3}, time.Time{})
	parts = s.Write(parts, bytes.Repeat([]byte{9}, 1000), time.Time{})
	if len(parts) != 0 {
		t.Fatalf("incomplete message emitted: %+v", parts)
	}
	parts = s.Flush(parts)
	if len(parts) != 1 || !parts[0].Truncated || len(parts[0].Data) != 10 || parts[0].Size != 0xffffffff {
		t.Fatalf("flush: %+v", parts)
	}

	// A gzip bomb stops at the budget.
	bomb := gz(t, make([]byte, 1<<20))
	s = NewSplitter("gzip", decode.Limits{MaxBody: 1000, MaxDecoded: 1 << 30}, nil)
	parts = s.Write(nil, frame(true, bomb), time.Time{})
	if len(parts) != 1 || len(parts[0].Data) != 1000 || !parts[0].Truncated {
		t.Fatalf("bomb: %d bytes, truncated %v", len(parts[0].Data), parts[0].Truncated)
	}
}

func TestSplitterGaps(t *testing.T) {
	a, b := frame(false, []byte("0123456789")), frame(false, []byte("abc"))
	// A known gap inside a payload keeps framing.
	s := NewSplitter("", decode.Limits{}, nil)
	parts := s.Write(nil, a[:8], time.Time{})
	parts = s.Skip(parts, 4, time.Time{})
	parts = s.Write(parts, a[12:], time.Time{})
	parts = s.Write(parts, b, time.Time{})
	if len(parts) != 2 || !parts[0].Truncated || string(parts[0].Data) != "012789" || string(parts[1].Data) != "abc" || parts[1].Truncated {
		t.Fatalf("known gap: %+v", parts)
	}
	// A gap over a prefix loses framing.
	s = NewSplitter("", decode.Limits{}, nil)
	parts = s.Write(nil, a, time.Time{})
	parts = s.Skip(parts, 7, time.Time{})
	parts = s.Write(parts, b, time.Time{})
	if len(parts) != 1 || !s.Lost() {
		t.Fatalf("gap over a prefix: %+v lost=%v", parts, s.Lost())
	}
	// Unknown gap: the message in progress is truncated at Flush.
	s = NewSplitter("", decode.Limits{}, nil)
	parts = s.Write(nil, a[:9], time.Time{})
	s.Lose()
	parts = s.Write(parts, b, time.Time{})
	parts = s.Flush(parts)
	if len(parts) != 1 || !parts[0].Truncated || string(parts[0].Data) != "0123" {
		t.Fatalf("unknown gap: %+v", parts)
	}
}
