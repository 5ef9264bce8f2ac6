package kafka

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/decodetest"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// frame prefixes b with its size.
func frame(b []byte) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...) }

// req builds a request with header v1 or v2 as the key and version call for.
func req(key, ver int16, corr int32, clientID string, body []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(ver))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	b = append(b, clientID...)
	if requestHeaderVersion(key, ver) == 2 {
		b = append(b, 0) // no tagged fields
	}
	return frame(append(b, body...))
}

// resp builds a response with header v0 or v1.
func resp(key, ver int16, corr int32, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(corr))
	if responseHeaderVersion(key, ver) == 1 {
		b = append(b, 0)
	}
	return frame(append(b, body...))
}

func i16(v int16) []byte  { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func i32(v int32) []byte  { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
func i64(v int64) []byte  { return binary.BigEndian.AppendUint64(nil, uint64(v)) }
func str(s string) []byte { return append(i16(int16(len(s))), s...) }
func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// batch is a magic-2 record batch header claiming n records, padded to
// size bytes.
func batch(n int32, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b[8:], uint32(size-12))
	b[magicOffset] = 2
	binary.BigEndian.PutUint32(b[countOffset:], uint32(n))
	return b
}

// produceV3 is a Produce v3 request body: one topic, one partition.
func produceV3(topic string, acks int16, records []byte) []byte {
	return cat(i16(-1), i16(acks), i32(1000), i32(1), str(topic), i32(1), i32(0), i32(int32(len(records))), records)
}

// produceRespV3 is the matching response with error code ec.
func produceRespV3(topic string, ec int16) []byte {
	return cat(i32(1), str(topic), i32(1), i32(0), i16(ec), i64(42), i64(-1), i32(0))
}

func TestDetect(t *testing.T) {
	yes := [][]byte{
		req(keyApiVersions, 3, 0, "kgo", []byte{4, 'k', 'g', 'o', 2, '1', 0}),
		req(keyMetadata, 1, 7, "rdkafka", cat(i32(-1))),
		req(keyProduce, 3, 1, "p", produceV3("t", 1, batch(1, 70))),
	}
	for _, b := range yes {
		if v := detectRequest(b); v != decode.Yes {
			t.Errorf("%x: %v, want Yes", b[:16], v)
		}
	}
	no := map[string][]byte{
		"http":         []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"tls":          {0x16, 3, 1, 0, 0xc8, 1, 0, 0, 0xc4, 3, 3},
		"h2":           []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
		"resp":         []byte("*1\r\n$4\r\nPING\r\n"),
		"resp-inline":  []byte("PING\r\n"),
		"pg-startup":   cat(i32(41), i32(196608), []byte("user\x00postgres\x00database\x00db\x00\x00")),
		"pg-ssl":       cat(i32(8), i32(80877103)),
		"mysql-login":  {0x55, 0, 0, 1, 0x8d, 0xa6, 0xff, 0x09, 0, 0, 0, 1, 0x21},
		"dns-over-tcp": {0, 29, 0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w'},
		"unknown-key":  req(200, 0, 1, "x", nil),
		"binary-cid":   req(keyMetadata, 1, 1, "\x01\x02", cat(i32(-1))),
		"empty-cid":    req(keyMetadata, 1, 1, "", cat(i32(-1))),
		// An HTTP/2 SETTINGS frame reads as Produce v0: size 0x604,
		// key 0, version 0, an empty client id.
		"h2-settings": {0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0x64},
		"bad-acks":    req(keyProduce, 3, 1, "p", produceV3("t", 7, batch(1, 70))),
		"bad-topic":   req(keyProduce, 3, 1, "p", produceV3("a topic", 1, batch(1, 70))),
	}
	for name, b := range no {
		if v := detectRequest(b); v != decode.No {
			t.Errorf("%s: %v, want No", name, v)
		}
	}
	// A request cut inside its client id waits for more.
	if v := detectRequest(req(keyMetadata, 1, 1, "a-long-client", nil)[:16]); v != decode.NeedMore {
		t.Errorf("cut client id: %v, want NeedMore", v)
	}
}

func feed(h decode.StreamHandler, dir decode.Direction, b []byte) { h.Data(dir, b, t0) }

// TestOutOfOrderAndPipelined: two pipelined requests answered in
// reverse order pair by correlation id; acks=0 completes without a
// response and does not disturb the pairing.
func TestOutOfOrderAndPipelined(t *testing.T) {
	c := newFakeConn(t)
	h := New().New(c)
	feed(h, 0, cat(
		req(keyProduce, 3, 1, "cli", produceV3("a", 1, cat(batch(3, 80), batch(2, 70)))),
		req(keyProduce, 3, 2, "cli", produceV3("b", 0, batch(5, 90))),
		req(keyProduce, 3, 3, "cli", produceV3("c", -1, batch(1, 61))),
	))
	feed(h, 1, resp(keyProduce, 3, 3, produceRespV3("c", 3)))
	feed(h, 1, resp(keyProduce, 3, 1, produceRespV3("a", 0)))
	h.End(decode.FlowClosed, t0)
	xs := c.Exchanges()
	if len(xs) != 3 {
		t.Fatalf("%d exchanges, want 3", len(xs))
	}
	want := []struct {
		target       string
		rows         int64
		batches      int
		bytes        int64
		err, code    string
		hasResponse  bool
		correlation  string
		responseCorr string
	}{
		{"a", 5, 2, 150, "", "", true, "1", "1"},
		{"b", 5, 1, 90, "", "", false, "2", ""},
		{"c", 1, 1, 61, "UNKNOWN_TOPIC_OR_PARTITION", "3", true, "3", "3"},
	}
	for i, w := range want {
		x := xs[i]
		if x.Request.Method != "Produce" || x.Request.Target != w.target || x.Query.Rows != w.rows || x.Query.Batches != w.batches ||
			x.Query.RecordBytes != w.bytes || x.Query.ReplyError != w.err || x.Query.ErrorCode != w.code || x.State != decode.Complete {
			t.Errorf("exchange %d: %s %q rows %d batches %d bytes %d err %q/%q state %s", i, x.Request.Method, x.Request.Target,
				x.Query.Rows, x.Query.Batches, x.Query.RecordBytes, x.Query.ReplyError, x.Query.ErrorCode, x.State)
		}
		if (x.Response != nil) != w.hasResponse || x.Request.HeaderValue("Correlation-Id") != w.correlation ||
			x.Response.HeaderValue("Correlation-Id") != w.responseCorr {
			t.Errorf("exchange %d: response %v, correlation %s/%s", i, x.Response != nil,
				x.Request.HeaderValue("Correlation-Id"), x.Response.HeaderValue("Correlation-Id"))
		}
		if x.Query.ClientID != "cli" || x.Request.HeaderValue("Acks") == "" {
			t.Errorf("exchange %d: client id %q, acks %q", i, x.Query.ClientID, x.Request.HeaderValue("Acks"))
		}
	}
}

// TestHostileSizes: an absurd size loses the framing with a note and
// nothing kept; the next segment that starts with a request resumes.
func TestHostileSizes(t *testing.T) {
	c := newFakeConn(t)
	h := New().New(c)
	feed(h, 0, req(keyMetadata, 1, 1, "c", cat(i32(-1))))
	feed(h, 0, []byte{0x7f, 0xff, 0xff, 0xff, 1, 2, 3})
	feed(h, 0, []byte("garbage that is not a request"))
	feed(h, 0, req(keyMetadata, 1, 2, "c", cat(i32(-1))))
	h.End(decode.FlowClosed, t0)
	xs := c.Exchanges()
	if len(xs) != 2 || xs[1].Request.HeaderValue("Correlation-Id") != "2" {
		t.Fatalf("%d exchanges, want the two requests", len(xs))
	}
	if !strings.Contains(strings.Join(c.Notes, "\n"), "implausible frame size") {
		t.Errorf("notes %q lack the size note", c.Notes)
	}
	if hh := h.(*handler); cap(hh.sides[0].buf) > minKeep {
		t.Errorf("buffer grew to %d", cap(hh.sides[0].buf))
	}
}

// TestLargeFrameBounded: a Produce larger than what is kept is counted
// whole, kept only in part, summarised from its first bytes with a note
// and ends Partial when its response is cut the same way.
func TestLargeFrameBounded(t *testing.T) {
	c := newFakeConn(t)
	h := New().New(c)
	big := req(keyProduce, 3, 9, "c", produceV3("big", 1, cat(batch(10, 1<<20), batch(10, 1<<20), batch(10, 1<<20))))
	for len(big) > 0 {
		n := min(len(big), 65536)
		feed(h, 0, big[:n])
		big = big[n:]
	}
	feed(h, 1, resp(keyProduce, 3, 9, produceRespV3("big", 0)))
	h.End(decode.FlowClosed, t0)
	xs := c.Exchanges()
	if len(xs) != 1 {
		t.Fatalf("%d exchanges", len(xs))
	}
	x := xs[0]
	if x.Request.BodySize < 3<<20 || !strings.Contains(x.Error, "summarised from its first") {
		t.Errorf("size %d, error %q", x.Request.BodySize, x.Error)
	}
	if x.Query.Rows != 0 && x.Query.Rows > 10 {
		t.Errorf("rows %d counted from bytes not kept", x.Query.Rows)
	}
	if hh := h.(*handler); cap(hh.sides[0].buf) > 2*minKeep {
		t.Errorf("buffer grew to %d", cap(hh.sides[0].buf))
	}
}

// TestUnknownKeyOnKafkaConnection: a key the table lacks, once the
// connection is Kafka, is an exchange named ApiKey(N) paired with its
// response.
func TestUnknownKeyOnKafkaConnection(t *testing.T) {
	c := newFakeConn(t)
	h := New().New(c)
	feed(h, 0, req(keyMetadata, 1, 1, "c", cat(i32(-1))))
	feed(h, 0, req(300, 2, 2, "c", []byte{1, 2, 3}))
	feed(h, 1, resp(300, 2, 2, []byte{0, 0}))
	feed(h, 0, req(keyApiVersions, 9, 3, "c", nil))
	feed(h, 1, resp(keyApiVersions, 9, 3, i16(35)))
	h.End(decode.FlowClosed, t0)
	xs := c.Exchanges()
	if len(xs) != 3 {
		t.Fatalf("%d exchanges", len(xs))
	}
	if xs[1].Request.Method != "ApiKey(300)" || xs[1].State != decode.Complete {
		t.Errorf("unknown key: %s %s", xs[1].Request.Method, xs[1].State)
	}
	if xs[2].Request.Method != "ApiVersions" || xs[2].State != decode.Complete || !strings.Contains(string(xs[2].Request.Body), "not decoded") {
		t.Errorf("newer version: %s %s %q", xs[2].Request.Method, xs[2].State, xs[2].Request.Body)
	}
}

// TestSASLRawToken: after SaslHandshake v0 the next frames are bare SASL
// tokens; the client's is the Password header only.
func TestSASLRawToken(t *testing.T) {
	c := newFakeConn(t)
	h := New().New(c)
	feed(h, 0, req(keySaslHandshake, 0, 1, "c", str("PLAIN")))
	feed(h, 1, resp(keySaslHandshake, 0, 1, cat(i16(0), i32(1), str("PLAIN"))))
	feed(h, 0, frame([]byte("\x00carol\x00s3cret-pw")))
	feed(h, 1, frame(nil))
	feed(h, 0, req(keyMetadata, 1, 2, "c", cat(i32(-1))))
	h.End(decode.FlowClosed, t0)
	xs := c.Exchanges()
	if len(xs) != 3 {
		t.Fatalf("%d exchanges", len(xs))
	}
	tok := xs[1]
	if tok.Request.Method != "SaslAuthenticate" || tok.Query.User != "carol" || tok.Request.HeaderValue("Password") != `\x00carol\x00s3cret-pw` ||
		strings.Contains(string(tok.Request.Body), "s3cret") || tok.State != decode.Complete {
		t.Errorf("token exchange: %s user %q password %q body %q state %s", tok.Request.Method, tok.Query.User,
			tok.Request.HeaderValue("Password"), tok.Request.Body, tok.State)
	}
	if xs[2].Request.Method != "Metadata" {
		t.Errorf("after the token: %s", xs[2].Request.Method)
	}
}

// skipper drops the first n packets of a capture: the decoder joins
// every connection then open mid-stream.
type skipper struct {
	d    *tcp.Decoder
	n, i int
}

func (s *skipper) Packet(p sources.Packet) {
	s.i++
	if s.i > s.n {
		s.d.Packet(&p)
	}
}
func (s *skipper) Status(sources.Status) {}

// TestMidStreamJoin starts the kgo capture at several points: no
// exchange may pair a response with the wrong request (the correlation
// ids of both sides agree) and requests after the join are decoded.
func TestMidStreamJoin(t *testing.T) {
	for _, skip := range []int{17, 60, 101, 150, 200} {
		src, err := pcapfile.Open(capturePath("kgo", ".pcap"))
		if err != nil {
			t.Fatal(err)
		}
		col := decodetest.NewCollector(t)
		d := tcp.NewDecoder(col, tcp.Config{Parsers: []decode.Parser{http1.New(), New()}})
		if err := src.Run(context.Background(), &skipper{d: d, n: skip}); err != nil {
			t.Fatal(err)
		}
		d.Finish(time.Time{})
		complete := 0
		for _, x := range col.Exchanges() {
			if x.Request == nil || x.Response == nil {
				continue
			}
			if a, b := x.Request.HeaderValue("Correlation-Id"), x.Response.HeaderValue("Correlation-Id"); a != b {
				t.Errorf("skip %d: request %s paired with response %s", skip, a, b)
			}
			complete++
		}
		if complete == 0 {
			t.Errorf("skip %d: nothing decoded after the join", skip)
		}
	}
}

// TestPartialFlowWaitsForMessageStarts: on a connection joined
// mid-stream, a response tail and a request tail are skipped rather than
// read as frames, and the next request and its response pair.
func TestPartialFlowWaitsForMessageStarts(t *testing.T) {
	c := newFakeConn(t)
	c.FlowInfo.Partial = true
	h := New().New(c)
	feed(h, 1, []byte{0, 0, 0x10, 0, 1, 2, 3}) // the end of a response: its bytes look like a 1 MB frame
	feed(h, 0, req(keyMetadata, 1, 41, "c", cat(i32(-1))))
	feed(h, 1, resp(keyMetadata, 1, 41, cat(i32(0), i32(-1), i32(0))))
	h.End(decode.FlowClosed, t0)
	xs := c.Exchanges()
	if len(xs) != 1 || xs[0].State != decode.Complete || xs[0].Response.HeaderValue("Correlation-Id") != "41" {
		t.Fatalf("exchanges %+v", xs)
	}
}

// TestGapInResponsesMarksPartial: requests waiting while server bytes
// went missing end Partial, not as requests nobody answered; a response
// after the gap still pairs.
func TestGapInResponsesMarksPartial(t *testing.T) {
	c := newFakeConn(t)
	h := New().New(c)
	feed(h, 0, cat(req(keyMetadata, 1, 1, "c", cat(i32(-1))), req(keyMetadata, 1, 2, "c", cat(i32(-1)))))
	h.Gap(decode.ServerToClient, 50, t0)
	feed(h, 1, resp(keyMetadata, 1, 2, cat(i32(0), i32(-1), i32(0))))
	h.End(decode.FlowClosed, t0)
	xs := c.Exchanges()
	if len(xs) != 2 || xs[0].State != decode.Partial || xs[1].State != decode.Complete {
		t.Fatalf("states %v", []decode.ExchangeState{xs[0].State, xs[1].State})
	}
}

// TestDetectCutInFlexibleBody: a flexible request whose first segment
// ends right after its header (a compact string not started) is Kafka.
func TestDetectCutInFlexibleBody(t *testing.T) {
	f := req(keyApiVersions, 3, 0, "tapview-producer", []byte{4, 'k', 'g', 'o', 2, '1', 0})
	for n := 31; n <= len(f); n++ {
		if v := detectRequest(f[:n]); v != decode.Yes {
			t.Errorf("first %d of %d bytes: %v", n, len(f), v)
		}
	}
}
