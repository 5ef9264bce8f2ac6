// Package tracemasktest holds what the trace masking tests share: reading
// trace files, running traces through tapview's decoder, and the view
// of everything a reader can get out of traces, in which planted
// secrets are looked for. It is imported by tests only.
package tracemasktest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"

	"github.com/tapview/tapview/bench/tapdecode"
	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
	"github.com/tapview/tapview/decode/taptrace"
	"github.com/tapview/tapview/sources"
	srctrace "github.com/tapview/tapview/sources/taptrace"
)

// ReadFile reads a length-delimited trace file.
func ReadFile(t testing.TB, path string) []*tapv3.TraceWrapper {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Read(t, f)
}

// Read reads length-delimited traces from r.
func Read(t testing.TB, r io.Reader) []*tapv3.TraceWrapper {
	t.Helper()
	rd, err := srctrace.NewReader(bufio.NewReader(r), srctrace.Delimited, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []*tapv3.TraceWrapper
	for {
		w, err := rd.Next()
		if err != nil {
			if err != io.EOF {
				t.Fatalf("reading traces: %v", err)
			}
			return out
		}
		out = append(out, w)
	}
}

// exchangeOut keeps the final exchanges a decoder publishes.
type exchangeOut struct {
	order []uint64
	last  map[uint64]*decode.Exchange
}

func (o *exchangeOut) Flow(*decode.Flow)   {}
func (o *exchangeOut) Note(sources.Status) {}
func (o *exchangeOut) Exchange(e *decode.Exchange) {
	if _, ok := o.last[e.ID]; !ok {
		o.order = append(o.order, e.ID)
	}
	o.last[e.ID] = e
}

// Decode runs traces through tapview's decoder as `tapview open`
// does (socket traces through the TCP parsers) and returns the final
// exchanges in order.
func Decode(ws []*tapv3.TraceWrapper) []*decode.Exchange {
	out := &exchangeOut{last: map[uint64]*decode.Exchange{}}
	td := tapdecode.NewDecoder(out)
	d := taptrace.NewDecoder(out, taptrace.Opener(td.OpenStream), td.NextExchangeID, taptrace.Options{})
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, w := range ws {
		d.Trace(&sources.Trace{Wrapper: w, Source: "taps", Arrival: at, Ordinal: uint64(i + 1)})
	}
	d.Flush()
	td.Finish(at.Add(time.Hour))
	var ex []*decode.Exchange
	for _, id := range out.order {
		ex = append(ex, out.last[id])
	}
	return ex
}

// View is everything a reader can get out of traces: every value
// of every exchange tapview decodes from them (headers, trailers,
// targets, bodies as transferred and with their content codings undone,
// gRPC and WebSocket messages unmasked and inflated, DNS answers), each
// socket trace's bytes per direction joined, and the raw protobuf.
func View(ws []*tapv3.TraceWrapper, raw []byte) []byte {
	var v bytes.Buffer
	v.Write(raw)
	msg := func(m *decode.Message) {
		if m == nil {
			return
		}
		v.WriteString(m.Target + "\n")
		for _, h := range append(append([]decode.Header(nil), m.Headers...), m.Trailers...) {
			v.WriteString(h.Name + ": " + h.Value + "\n")
		}
		v.Write(m.Body)
		v.WriteByte('\n')
		if len(m.ContentEncoding) > 0 {
			if d, err := body.Decode(m.ContentEncoding, m.Body, 64<<20); err == nil {
				v.Write(d)
				v.WriteByte('\n')
			}
		}
		for _, p := range m.Parts {
			v.Write(p.Data)
			v.WriteByte('\n')
		}
	}
	for _, e := range Decode(ws) {
		msg(e.Request)
		msg(e.Response)
		for _, im := range e.Interim {
			msg(im)
		}
		if e.DNS != nil {
			v.WriteString(strings.Join(e.DNS.Answers, "\n"))
		}
		v.WriteString(e.Error + "\n")
	}
	streams := map[[2]uint64][]byte{}
	for _, w := range ws {
		var id uint64
		var evs []*tapv3.SocketEvent
		if sb := w.GetSocketBufferedTrace(); sb != nil {
			id, evs = sb.GetTraceId(), sb.GetEvents()
		}
		if ss := w.GetSocketStreamedTraceSegment(); ss != nil {
			id = ss.GetTraceId()
			if ev := ss.GetEvent(); ev != nil {
				evs = []*tapv3.SocketEvent{ev}
			}
			evs = append(evs, ss.GetEvents().GetEvents()...)
		}
		for _, ev := range evs {
			if r := ev.GetRead(); r != nil {
				streams[[2]uint64{id, 0}] = append(streams[[2]uint64{id, 0}], r.GetData().GetAsBytes()...)
			}
			if w := ev.GetWrite(); w != nil {
				streams[[2]uint64{id, 1}] = append(streams[[2]uint64{id, 1}], w.GetData().GetAsBytes()...)
			}
		}
	}
	for _, s := range streams {
		v.Write(s)
		v.WriteByte('\n')
	}
	return v.Bytes()
}

// Summary lists the exchanges of traces as protocol, method, path
// without the query (where masking overwrites values), status and state,
// sorted: a masked streamed trace is written when it completes, so the
// order of exchanges from different traces may change.
func Summary(ws []*tapv3.TraceWrapper) []string {
	var out []string
	for _, e := range Decode(ws) {
		p := e.Path()
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		out = append(out, fmt.Sprintf("%s %s %s %d %s", e.Proto, e.Method(), p, e.Status(), e.State))
	}
	sort.Strings(out)
	return out
}
