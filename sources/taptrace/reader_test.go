package taptrace_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/taptrace"
	"github.com/tapview/tapview/sources/taptrace/tracetest"
)

// sample is one trace of every kind, streamed ones as their segments.
func sample() []*tapv3.TraceWrapper {
	out := []*tapv3.TraceWrapper{tracetest.HTTPBuffered(1, "/a?b=1", 200, `{"ok":true}`), tracetest.GRPCBuffered(2)}
	out = append(out, tracetest.HTTPStreamed(77, "/upload")...)
	out = append(out, tracetest.SocketBuffered(3))
	out = append(out, tracetest.SocketStreamed(88, 4)...)
	return out
}

// envoyJSON renders traces the way Envoy's file and admin sinks do:
// pretty, snake_case, primitive fields always printed, concatenated.
func envoyJSON(t testing.TB, ws []*tapv3.TraceWrapper) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, w := range ws {
		j, err := protojson.MarshalOptions{Multiline: true, Indent: " ", UseProtoNames: true, EmitUnpopulated: true}.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
	}
	return b.Bytes()
}

func readAll(t *testing.T, r io.Reader, f taptrace.Format) []*tapv3.TraceWrapper {
	t.Helper()
	rd, err := taptrace.NewReader(r, f, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []*tapv3.TraceWrapper
	for {
		w, err := rd.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		out = append(out, w)
	}
}

func sameTraces(t *testing.T, got, want []*tapv3.TraceWrapper) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d traces, want %d", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("trace %d differs:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}

func TestReadEveryFormat(t *testing.T) {
	want := sample()
	t.Run("json", func(t *testing.T) {
		sameTraces(t, readAll(t, bytes.NewReader(envoyJSON(t, want)), taptrace.JSON), want)
	})
	t.Run("pb_length_delimited", func(t *testing.T) {
		var b bytes.Buffer
		rec := taptrace.NewRecorder(&b)
		for _, w := range want {
			if err := rec.Record(&sources.Trace{Wrapper: w}); err != nil {
				t.Fatal(err)
			}
		}
		sameTraces(t, readAll(t, &b, taptrace.Delimited), want)
	})
	t.Run("pb_text", func(t *testing.T) {
		var b bytes.Buffer
		for _, w := range want {
			b.WriteString(prototext.MarshalOptions{Multiline: true}.Format(w))
			b.WriteString("\n")
		}
		sameTraces(t, readAll(t, &b, taptrace.Text), want)
	})
	t.Run("pb", func(t *testing.T) {
		b, err := proto.Marshal(want[0])
		if err != nil {
			t.Fatal(err)
		}
		sameTraces(t, readAll(t, bytes.NewReader(b), taptrace.Binary), want[:1])
	})
}

// Text fields whose values contain a trace kind name, and comments, do
// not cut a trace apart.
func TestTextSplitIgnoresNamesInValues(t *testing.T) {
	in := `# socket_buffered_trace in a comment
http_buffered_trace {
  request { headers { key: "x" value: "http_buffered_trace { }" } }
}
socket_buffered_trace < trace_id: 5 >
`
	got := readAll(t, strings.NewReader(in), taptrace.Text)
	if len(got) != 2 || got[0].GetHttpBufferedTrace().GetRequest().GetHeaders()[0].GetValue() != "http_buffered_trace { }" ||
		got[1].GetSocketBufferedTrace().GetTraceId() != 5 {
		t.Fatalf("got %v", got)
	}
}

func TestDamagedRecordsAreSkipped(t *testing.T) {
	good := sample()[:2]
	var b bytes.Buffer
	rec := taptrace.NewRecorder(&b)
	_ = rec.Record(&sources.Trace{Wrapper: good[0]})
	b.Write([]byte{3, 0xff, 0xff, 0xff})    // undecodable message
	b.Write([]byte{2, 0x28, 0x01})          // field 5 only: no trace kind
	b.Write([]byte{0x80, 0x80, 0x80, 0x01}) // 2 MiB record over the 1 MiB limit
	b.Write(make([]byte, 2<<20))
	_ = rec.Record(&sources.Trace{Wrapper: good[1]})
	b.Write([]byte{0x80, 0x80, 0x80, 0x04}) // 8 MiB length, data missing
	rd, _ := taptrace.NewReader(bytes.NewReader(b.Bytes()), taptrace.Delimited, 1<<20)
	var got []*tapv3.TraceWrapper
	skipped := 0
	for {
		w, err := rd.Next()
		var re *taptrace.RecordError
		if errors.As(err, &re) {
			skipped++
			continue
		}
		if err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatalf("err %v", err)
		}
		got = append(got, w)
	}
	if skipped != 3 {
		t.Errorf("skipped %d, want 3 (bad bytes, empty trace, oversized)", skipped)
	}
	sameTraces(t, got, good)
}

// emitter records what a Source emits.
type emitter struct {
	mu     sync.Mutex
	traces []sources.Trace
	notes  []sources.Status
}

func (e *emitter) Packet(sources.Packet) {}
func (e *emitter) Status(s sources.Status) {
	e.mu.Lock()
	e.notes = append(e.notes, s)
	e.mu.Unlock()
}
func (e *emitter) Trace(t sources.Trace) {
	e.mu.Lock()
	e.traces = append(e.traces, t)
	e.mu.Unlock()
}

func TestOpenFileSource(t *testing.T) {
	dir := t.TempDir()
	want := sample()
	path := filepath.Join(dir, "tap_123.json")
	data := envoyJSON(t, want)
	if err := os.WriteFile(path, data[:len(data)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := taptrace.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if src.Name() != "tap_123.json" {
		t.Errorf("name %q", src.Name())
	}
	em := &emitter{}
	if err := src.Run(context.Background(), em); err != nil {
		t.Fatal(err)
	}
	if len(em.traces) != len(want)-1 {
		t.Fatalf("%d traces, want %d", len(em.traces), len(want)-1)
	}
	for i, tr := range em.traces {
		if tr.Ordinal != uint64(i+1) || tr.Source != "tap_123.json" || tr.Arrival.IsZero() {
			t.Fatalf("trace %d: %+v", i, tr)
		}
	}
	if len(em.notes) != 1 || em.notes[0].Kind != "truncated" {
		t.Fatalf("notes %+v", em.notes)
	}
	if _, err := taptrace.Open(filepath.Join(dir, "x.pcap")); err == nil {
		t.Error("a .pcap file was accepted")
	}
	if _, err := taptrace.Open(filepath.Join(dir, "missing.pb")); err == nil {
		t.Error("a missing file was accepted")
	}
}

func FuzzReader(f *testing.F) {
	ws := sample()
	var delim bytes.Buffer
	rec := taptrace.NewRecorder(&delim)
	for _, w := range ws {
		_ = rec.Record(&sources.Trace{Wrapper: w})
	}
	f.Add(uint8(taptrace.Delimited), delim.Bytes())
	f.Add(uint8(taptrace.JSON), envoyJSON(f, ws[:3]))
	f.Add(uint8(taptrace.Text), []byte(prototext.Format(ws[0])+prototext.Format(ws[3])))
	b, _ := proto.Marshal(ws[5])
	f.Add(uint8(taptrace.Binary), b)
	f.Fuzz(func(t *testing.T, format uint8, data []byte) {
		ft := taptrace.Format(format%4 + 1)
		rd, err := taptrace.NewReader(bytes.NewReader(data), ft, 1<<16)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatalf("%v: more records than input bytes", ft)
			}
			w, err := rd.Next()
			var re *taptrace.RecordError
			if errors.As(err, &re) {
				continue
			}
			if err != nil {
				return
			}
			if w.GetTrace() == nil {
				t.Fatalf("trace without a kind returned")
			}
		}
	})
}
