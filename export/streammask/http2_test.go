package streammask

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func h2frame(typ http2.FrameType, flags http2.Flags, stream uint32, payload []byte) []byte {
	n := len(payload)
	out := []byte{byte(n >> 16), byte(n >> 8), byte(n), byte(typ), byte(flags), byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
	return append(out, payload...)
}

// hb builds header blocks field by field.
type hb struct{ b []byte }

func (h *hb) integer(prefix byte, bits uint, v int) {
	max := 1<<bits - 1
	if v < max {
		h.b = append(h.b, prefix|byte(v))
		return
	}
	h.b = append(h.b, prefix|byte(max))
	for v -= max; v >= 128; v /= 128 {
		h.b = append(h.b, byte(v%128+128))
	}
	h.b = append(h.b, byte(v))
}

func (h *hb) str(s string, huff bool) {
	if huff {
		c := hpack.AppendHuffmanString(nil, s)
		h.integer(0x80, 7, len(c))
		h.b = append(h.b, c...)
		return
	}
	h.integer(0, 7, len(s))
	h.b = append(h.b, s...)
}

func (h *hb) indexed(i int) { h.integer(0x80, 7, i) }

func (h *hb) literal(incremental bool, nameIdx int, name, value string, huff bool) {
	if incremental {
		h.integer(0x40, 6, nameIdx)
	} else {
		h.integer(0, 4, nameIdx)
	}
	if nameIdx == 0 {
		h.str(name, false)
	}
	h.str(value, huff)
}

// h2Fields reads every header block of a direction's stream with
// x/net/http2's framer and HPACK decoder: it fails when a block no
// longer decodes.
func h2Fields(t *testing.T, stream []byte, client bool) []string {
	t.Helper()
	if client {
		if !bytes.HasPrefix(stream, []byte(h2Preface)) {
			t.Fatalf("preface lost: %q", stream[:min(len(stream), 24)])
		}
		stream = stream[len(h2Preface):]
	}
	fr := http2.NewFramer(nil, bytes.NewReader(stream))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 1 << 20
	var out []string
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("masked HTTP/2 does not parse: %v", err)
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			for _, hf := range f.Fields {
				out = append(out, hf.Name+": "+hf.Value)
			}
		case *http2.DataFrame:
			out = append(out, "DATA: "+string(f.Data()))
		}
	}
}

func TestHTTP2HeadersAcrossContinuationAndTable(t *testing.T) {
	var b hb
	b.indexed(3)
	b.indexed(6)
	b.literal(false, 4, "", "/x?api_key="+sQuery, false)
	b.literal(true, 1, "", "api.test", true)
	at := len(b.b)
	b.literal(true, 23, "", "Bearer "+sBearer, true)
	b.literal(true, 0, "x-api-key", sToken, false)
	b.literal(false, 32, "", "session="+sCookie, true)
	b.literal(false, 31, "", "application/json", false)
	cut := at + 10
	// PADDED and PRIORITY on the HEADERS frame, the block continued.
	pay := append([]byte{3}, 0, 0, 0, 0, 16)
	pay = append(append(pay, b.b[:cut]...), 0, 0, 0)
	c1 := h2frame(http2.FrameHeaders, http2.FlagHeadersPadded|http2.FlagHeadersPriority, 1, pay)
	c2 := h2frame(http2.FrameContinuation, 0, 1, b.b[cut:cut+7])
	c3 := h2frame(http2.FrameContinuation, http2.FlagContinuationEndHeaders, 1, b.b[cut+7:])
	body := `{"password":"` + sPass + `"}`
	d1 := h2frame(http2.FrameData, 0, 1, []byte(body[:17]))
	d2 := h2frame(http2.FrameData, http2.FlagDataEndStream|http2.FlagDataPadded, 1, append(append([]byte{2}, body[17:]...), 0, 0))
	// Stream 3 refers to the table.
	var b3 hb
	b3.indexed(2)
	b3.indexed(6)
	b3.literal(false, 4, "", "/y", false)
	b3.indexed(64)
	b3.indexed(63)
	b3.indexed(62)
	s3 := h2frame(http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 3, b3.b)

	// The server answers with Go's own HPACK encoder (Huffman where
	// shorter, indexing).
	var rb bytes.Buffer
	enc := hpack.NewEncoder(&rb)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	enc.WriteField(hpack.HeaderField{Name: "set-cookie", Value: "session=" + sCookie + "; Path=/"})
	r1 := h2frame(http2.FrameHeaders, http2.FlagHeadersEndHeaders, 1, bytes.Clone(rb.Bytes()))
	rdata := h2frame(http2.FrameData, http2.FlagDataEndStream, 1, []byte(`{"refresh_token":"`+sToken+`"}`))
	rb.Reset()
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	enc.WriteField(hpack.HeaderField{Name: "set-cookie", Value: "session=" + sCookie + "; Path=/"})
	r3 := h2frame(http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 3, bytes.Clone(rb.Bytes()))

	client := append([]byte(h2Preface), h2frame(http2.FrameSettings, 0, 0, nil)...)
	client = append(append(append(append(append(append(client, c1...), c2...), c3...), d1...), d2...), s3...)
	server := append(append(append(h2frame(http2.FrameSettings, 0, 0, nil), r1...), rdata...), r3...)
	for _, mss := range []int{1, 9, 31, 1460} {
		h := newHarness(t)
		h.open()
		h.send(0, client, mss)
		h.send(1, server, mss)
		h.close()
		st, covered := h.masked()
		what := fmt.Sprintf("mss %d", mss)
		cf := strings.Join(h2Fields(t, st[0], true), "\n")
		sf := strings.Join(h2Fields(t, st[1], false), "\n")
		mustHide(t, what+" client", []byte(cf), sQuery, sBearer, sToken, sCookie, sPass)
		mustHide(t, what+" client raw", st[0], sQuery, sBearer, sToken, sCookie, sPass)
		mustHide(t, what+" server", []byte(sf), sCookie, sToken)
		mustKeep(t, what+" client", []byte(cf), ":path: /x?api_key=", ":authority: api.test", "authorization: Bearer ", "content-type: application/json",
			`DATA: {"password":"`, ":path: /y")
		mustKeep(t, what+" server", []byte(sf), "set-cookie: session=", "; Path=/", `DATA: {"refresh_token":"`)
		if !covered {
			t.Errorf("%s: not covered", what)
		}
		// References to the table read the masked values.
		if n := strings.Count(cf, "authorization: Bearer "); n != 2 {
			t.Errorf("%s: %d authorization fields:\n%s", what, n, cf)
		}
	}
}

func grpcMsg(compressed bool, b []byte) []byte {
	out := []byte{0, 0, 0, 0, 0}
	if compressed {
		out[0] = 1
	}
	binary.BigEndian.PutUint32(out[1:], uint32(len(b)))
	return append(out, b...)
}

func TestGRPCMessageAcrossDataFrames(t *testing.T) {
	var b hb
	b.indexed(3)
	b.indexed(6)
	b.literal(false, 4, "", "/pkg.Svc/Call", false)
	b.literal(true, 31, "", "application/grpc", false)
	b.literal(false, 0, "grpc-encoding", "gzip", false)
	headers := h2frame(http2.FrameHeaders, http2.FlagHeadersEndHeaders, 1, b.b)
	// A message whose JWT straddles the 16 KB frame boundary, then a
	// compressed one.
	msg := append(bytes.Repeat([]byte{'p'}, 16384-5-20), []byte("\x12\x70"+sJWT)...)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte("\x0a\x20sk_live_" + sToken + sToken))
	zw.Close()
	data := append(grpcMsg(false, msg), grpcMsg(true, z.Bytes())...)
	client := append([]byte(h2Preface), headers...)
	for len(data) > 0 {
		n := min(16384, len(data))
		fl := http2.Flags(0)
		if n == len(data) {
			fl = http2.FlagDataEndStream
		}
		client = append(client, h2frame(http2.FrameData, fl, 1, data[:n])...)
		data = data[n:]
	}
	h := newHarness(t)
	h.open()
	h.send(0, client, 1448)
	h.close()
	st, _ := h.masked()
	mustHide(t, "grpc", st[0], sJWT[37:], sToken)
	fields := h2Fields(t, st[0], true)
	var payload []byte
	for _, f := range fields {
		if p, ok := strings.CutPrefix(f, "DATA: "); ok {
			payload = append(payload, p...)
		}
	}
	// The second message still decompresses, to '*'.
	second := payload[5+len(msg):]
	zr, err := gzip.NewReader(bytes.NewReader(second[5:]))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil || strings.Trim(string(out), "*") != "" {
		t.Fatalf("compressed message inflates to %q, %v", out, err)
	}
}

func TestHTTP2MalformedBlockIsOverwritten(t *testing.T) {
	var b hb
	b.indexed(2)
	b.literal(false, 23, "", "Bearer "+sBearer, false)
	blk := append(b.b, 0x7f) // an integer that never ends
	client := append([]byte(h2Preface), h2frame(http2.FrameHeaders, http2.FlagHeadersEndHeaders, 1, blk)...)
	// A block cut off by the end of the capture.
	var c hb
	c.literal(false, 23, "", "Bearer "+sToken, false)
	client = append(client, h2frame(http2.FrameHeaders, 0, 3, c.b)...)
	h := newHarness(t)
	h.open()
	h.send(0, client, 100)
	h.close()
	st, _ := h.masked()
	mustHide(t, "malformed", st[0], sBearer, sToken)
}
