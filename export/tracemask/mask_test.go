package tracemask_test

import (
	"bytes"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/tapview/tapview/decode/body"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/export/tracemask"
	"github.com/tapview/tapview/export/tracemask/tracemasktest"
)

// gzipTrace returns the leak corpus's buffered trace of GET /gzip (a
// gzip response body with a client_secret, from real traffic) and that
// secret.
func gzipTrace(t *testing.T) (*tapv3.TraceWrapper, string) {
	t.Helper()
	var secret string
	for _, s := range loadSecrets(t) {
		if s.name == "h1-gzip-client-secret" {
			secret = s.value
		}
	}
	for _, w := range tracemasktest.ReadFile(t, leakDir+"/taps-http.pb_length_delimited") {
		hb := w.GetHttpBufferedTrace()
		for _, h := range hb.GetRequest().GetHeaders() {
			if h.GetKey() == ":path" && h.GetValue() == "/gzip" && secret != "" {
				return w, secret
			}
		}
	}
	t.Fatal("no buffered trace of GET /gzip in the leak corpus traces (run scripts/record-leak-traces.sh)")
	return nil, ""
}

func header(w *tapv3.TraceWrapper, name string) string {
	for _, h := range w.GetHttpBufferedTrace().GetResponse().GetHeaders() {
		if strings.EqualFold(h.GetKey(), name) {
			return h.GetValue()
		}
	}
	return ""
}

// A gzip body holding a secret is decoded, masked and encoded again:
// still gzip, decoding to as many bytes, the secret overwritten and the
// rest of the text kept.
func TestCompressedBodyEncodedAgain(t *testing.T) {
	w, secret := gzipTrace(t)
	orig, err := body.Decode([]string{"gzip"}, w.GetHttpBufferedTrace().GetResponse().GetBody().GetAsBytes(), 1<<20)
	if err != nil || !bytes.Contains(orig, []byte(secret)) {
		t.Fatalf("the recorded body does not hold the secret: %q, %v", orig, err)
	}
	out := tracemask.New(mask.Default()).Add(w)
	if len(out) != 1 || out[0] != w {
		t.Fatalf("Add returned %d traces for one buffered trace", len(out))
	}
	if header(w, "content-encoding") != "gzip" {
		t.Errorf("content-encoding %q after masking, want gzip kept", header(w, "content-encoding"))
	}
	got, err := body.Decode([]string{"gzip"}, w.GetHttpBufferedTrace().GetResponse().GetBody().GetAsBytes(), 1<<20)
	if err != nil {
		t.Fatalf("masked body is not gzip any more: %v", err)
	}
	if bytes.Contains(got, []byte(secret[:8])) || len(got) != len(orig) || !bytes.Contains(got, []byte("client_secret")) {
		t.Errorf("masked body decodes to %q (was %q)", got, orig)
	}
}

// A gzip body Envoy cut at its buffer limit cannot be decoded, so it
// cannot be checked: it is replaced with a note saying why, and
// Content-Encoding goes so readers take the note as text.
func TestCutCompressedBodyWithheld(t *testing.T) {
	w, secret := gzipTrace(t)
	b := w.GetHttpBufferedTrace().GetResponse().GetBody()
	data := b.GetAsBytes()
	b.BodyType, b.Truncated = &tapv3.Body_AsBytes{AsBytes: data[:len(data)/2]}, true
	x := tracemask.New(mask.Default())
	x.Add(w)
	got := w.GetHttpBufferedTrace().GetResponse().GetBody().GetAsBytes()
	if !bytes.Contains(got, []byte("withheld")) || bytes.Contains(got, data[:len(data)/2]) {
		t.Errorf("cut gzip body became %q", got)
	}
	if bytes.Contains(got, []byte(secret[:8])) {
		t.Error("the secret is in the note")
	}
	if ce := header(w, "content-encoding"); ce != "" {
		t.Errorf("content-encoding %q kept on a note", ce)
	}
	if x.Stats().Withheld[tracemask.WhyUndecodable] != 1 {
		t.Errorf("stats %+v", x.Stats())
	}
}

// Fields this build does not know (a newer Envoy's) cannot be checked,
// so they are dropped, at any depth.
func TestUnknownFieldsDropped(t *testing.T) {
	w, _ := gzipTrace(t)
	unknown := protowire.AppendTag(nil, 999, protowire.BytesType)
	unknown = protowire.AppendBytes(unknown, []byte("Authorization: Bearer sekrit-in-a-new-field"))
	w.ProtoReflect().SetUnknown(unknown)
	req := w.GetHttpBufferedTrace().GetRequest()
	req.ProtoReflect().SetUnknown(unknown)
	before, _ := proto.Marshal(w)
	if !bytes.Contains(before, []byte("sekrit")) {
		t.Fatal("the unknown field did not make it into the trace")
	}
	tracemask.New(mask.Default()).Add(w)
	after, err := proto.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(after, []byte("sekrit")) {
		t.Error("an unknown field survived masking")
	}
}

// A streamed trace cut in two (two upload segments, two Maskers): the
// second part's body chunks come without their headers, so a body that
// is not text is withheld; the first part is masked as it can be.
func TestStreamedTraceCutInTwo(t *testing.T) {
	w, secret := gzipTrace(t)
	hb := w.GetHttpBufferedTrace()
	data := hb.GetResponse().GetBody().GetAsBytes()
	seg := func(s *tapv3.HttpStreamedTraceSegment) *tapv3.TraceWrapper {
		s.TraceId = 77
		return &tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_HttpStreamedTraceSegment{HttpStreamedTraceSegment: s}}
	}
	first := []*tapv3.TraceWrapper{
		seg(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_RequestHeaders{RequestHeaders: headerMap(hb.GetRequest().GetHeaders())}}),
		seg(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_ResponseHeaders{ResponseHeaders: headerMap(hb.GetResponse().GetHeaders())}}),
		seg(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_ResponseBodyChunk{ResponseBodyChunk: &tapv3.Body{BodyType: &tapv3.Body_AsBytes{AsBytes: data[:10]}}}}),
	}
	second := seg(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_ResponseBodyChunk{ResponseBodyChunk: &tapv3.Body{BodyType: &tapv3.Body_AsBytes{AsBytes: data[10:]}}}})
	a := tracemask.New(mask.Default())
	for _, s := range first {
		if out := a.Add(s); len(out) != 0 {
			t.Fatalf("a segment of an incomplete streamed trace was released: %v", out)
		}
	}
	if out := a.Flush(); len(out) != len(first) {
		t.Fatalf("Flush released %d of %d held segments", len(out), len(first))
	}
	b := tracemask.New(mask.Default())
	b.Add(second)
	out := b.Flush()
	if len(out) != 1 {
		t.Fatalf("Flush released %d segments, want 1", len(out))
	}
	got := out[0].GetHttpStreamedTraceSegment().GetResponseBodyChunk().GetAsBytes()
	if !bytes.Contains(got, []byte("withheld")) || bytes.Contains(got, []byte(secret[:8])) {
		t.Errorf("the headerless rest of a gzip body became %q", got)
	}
}

func headerMap(hs []*corev3.HeaderValue) *corev3.HeaderMap {
	return &corev3.HeaderMap{Headers: hs}
}
