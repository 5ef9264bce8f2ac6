package taptrace_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/taptrace"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/taptrace/tracetest"
)

// output keeps every publication and the latest version of each exchange.
type output struct {
	pubs   []*decode.Exchange
	latest map[uint64]*decode.Exchange
	order  []uint64
	flows  map[uint64]*decode.Flow
}

func newOutput() *output {
	return &output{latest: map[uint64]*decode.Exchange{}, flows: map[uint64]*decode.Flow{}}
}

func (o *output) Exchange(e *decode.Exchange) {
	if _, ok := o.latest[e.ID]; !ok {
		o.order = append(o.order, e.ID)
	}
	o.pubs = append(o.pubs, e)
	o.latest[e.ID] = e
}
func (o *output) Flow(f *decode.Flow) { o.flows[f.ID] = f }
func (o *output) Note(sources.Status) {}
func (o *output) all() []*decode.Exchange {
	out := make([]*decode.Exchange, 0, len(o.order))
	for _, id := range o.order {
		out = append(out, o.latest[id])
	}
	return out
}

// streamLog records what a socket trace replays, as the TCP decoder
// would receive it.
type streamLog struct {
	client, server netip.AddrPort
	ops            []string
	data           [2]bytes.Buffer
	closed         decode.FlowState
}

func (s *streamLog) Data(dir decode.Direction, data []byte, ts time.Time) {
	s.ops = append(s.ops, fmt.Sprintf("%v:%d", dir, len(data)))
	s.data[dir].Write(data)
}
func (s *streamLog) Gap(dir decode.Direction, n int, ts time.Time) {
	s.ops = append(s.ops, fmt.Sprintf("gap %v", dir))
}
func (s *streamLog) Close(state decode.FlowState, ts time.Time) {
	s.ops = append(s.ops, "close")
	s.closed = state
}

type opener struct{ streams []*streamLog }

func (o *opener) open(source string, client, server netip.AddrPort, ts time.Time) *streamLog {
	s := &streamLog{client: client, server: server}
	o.streams = append(o.streams, s)
	return s
}

func counter(start uint64) func() uint64 {
	n := start
	return func() uint64 { n++; return n }
}

func trace(w *tapv3.TraceWrapper, n int) *sources.Trace {
	return &sources.Trace{Wrapper: w, Source: "sink", Node: "envoy-1", Arrival: tracetest.Base().Add(time.Duration(n) * time.Second), Ordinal: uint64(n)}
}

func TestBufferedHTTP(t *testing.T) {
	out := newOutput()
	d := taptrace.NewDecoder(out, nil, counter(1<<40), taptrace.Options{})
	w := tracetest.HTTPBuffered(5, "/v1/items?id=7", 404, `{"error":"nope"}`)
	h := w.GetHttpBufferedTrace()
	h.Request.Body = tracetest.Bytes("partial-req", true)
	h.UpstreamConnection = tracetest.Conn("10.3.0.9", "10.1.0.2", 8443, 51234)
	d.Trace(trace(w, 1))
	ex := out.all()
	if len(ex) != 1 {
		t.Fatalf("%d exchanges", len(ex))
	}
	e := ex[0]
	if e.ID != 1<<40+1 || e.State != decode.Complete || e.Proto != "h2" || e.Source != "sink/envoy-1" {
		t.Errorf("exchange %+v", e)
	}
	if e.Method() != "GET" || e.Path() != "/v1/items?id=7" || e.Host() != "api.example" || e.Status() != 404 {
		t.Errorf("method %q path %q host %q status %d", e.Method(), e.Path(), e.Host(), e.Status())
	}
	if e.Client != netip.MustParseAddrPort("10.1.0.7:40005") || e.Server != netip.MustParseAddrPort("10.1.0.2:8080") ||
		e.Upstream != netip.MustParseAddrPort("10.3.0.9:8443") {
		t.Errorf("addresses %v -> %v (upstream %v)", e.Client, e.Server, e.Upstream)
	}
	if string(e.Response.Body) != `{"error":"nope"}` || e.Response.Truncated || e.Response.ContentType() != "application/json" {
		t.Errorf("response body %q truncated %v", e.Response.Body, e.Response.Truncated)
	}
	if !e.Request.Truncated || string(e.Request.Body) != "partial-req" {
		t.Errorf("request body %q truncated %v", e.Request.Body, e.Request.Truncated)
	}
	if e.Request.HeaderValue("x-request-id") != "req-5" || e.Request.HeaderValue("User-Agent") != "curl/8.5.0" {
		t.Errorf("request headers %v", e.Request.Headers)
	}
	if want := tracetest.Base().Add(5 * time.Millisecond); !e.Start.Equal(want) || !e.Response.First.Equal(want.Add(3*time.Millisecond)) {
		t.Errorf("times start %v response %v", e.Start, e.Response.First)
	}
	if e.Latency() != 3*time.Millisecond {
		t.Errorf("latency %v", e.Latency())
	}
}

func TestBufferedGRPC(t *testing.T) {
	out := newOutput()
	d := taptrace.NewDecoder(out, nil, counter(0), taptrace.Options{})
	d.Trace(trace(tracetest.GRPCBuffered(1), 1))
	e := out.all()[0]
	if e.Proto != "grpc" || e.GRPC == nil || e.GRPC.Service != "helloworld.Greeter" || e.GRPC.Method != "SayHello" || e.GRPC.Status != 0 {
		t.Fatalf("grpc %+v %+v", e.Proto, e.GRPC)
	}
	if len(e.Request.Parts) != 1 || string(e.Request.Parts[0].Data) != "\x0a\x03bob" ||
		len(e.Response.Parts) != 1 || string(e.Response.Parts[0].Data) != "\x0a\x09hello bob" {
		t.Fatalf("parts %+v / %+v", e.Request.Parts, e.Response.Parts)
	}
	if e.Response.Trailers[0].Name != "grpc-status" {
		t.Errorf("trailers %v", e.Response.Trailers)
	}
}

func TestStreamedHTTPMergedByTraceID(t *testing.T) {
	out := newOutput()
	d := taptrace.NewDecoder(out, nil, counter(0), taptrace.Options{})
	a := tracetest.HTTPStreamed(1, "/a")
	b := tracetest.HTTPStreamed(2, "/b")
	// Interleave two traces; the same id from another node is another
	// exchange.
	for i := range a {
		d.Trace(trace(a[i], i))
		d.Trace(trace(b[i], i))
	}
	other := trace(tracetest.HTTPStreamed(1, "/other")[0], 9)
	other.Node = "envoy-2"
	d.Trace(other)
	if d.Pending() != 1 {
		t.Errorf("pending %d, want 1 (the lone headers segment)", d.Pending())
	}
	d.Flush()
	ex := out.all()
	if len(ex) != 3 {
		t.Fatalf("%d exchanges", len(ex))
	}
	for i, path := range []string{"/a", "/b"} {
		e := ex[i]
		if e.Path() != path || e.Method() != "POST" || e.Status() != 201 || e.State != decode.Complete {
			t.Errorf("%s: %s %s %d %s", path, e.Method(), e.Path(), e.Status(), e.State)
		}
		if string(e.Request.Body) != "hello world" || string(e.Response.Body) != "created" ||
			e.Response.Trailers[0].Value != "abc" || e.Request.DecodedSize != 11 {
			t.Errorf("%s: bodies %q %q trailers %v", path, e.Request.Body, e.Response.Body, e.Response.Trailers)
		}
	}
	if ex[2].State != decode.Orphan || ex[2].Path() != "/other" || ex[2].Source != "sink/envoy-2" {
		t.Errorf("lone request: %s %s %s", ex[2].State, ex[2].Path(), ex[2].Source)
	}
	// Every publication of an ID has a higher version; only the last is
	// final, and earlier snapshots were not changed by later merges.
	last := map[uint64]uint64{}
	for _, p := range out.pubs {
		if p.Version <= last[p.ID] {
			t.Fatalf("exchange %d published version %d after %d", p.ID, p.Version, last[p.ID])
		}
		last[p.ID] = p.Version
		if p.State.Final() != (p == out.latest[p.ID]) {
			t.Fatalf("exchange %d v%d state %s", p.ID, p.Version, p.State)
		}
	}
	first := out.pubs[0]
	if first.Response != nil || first.Request.Body != nil {
		t.Errorf("first snapshot changed later: %+v", first.Request)
	}
}

func TestStreamedBoundsAndIdle(t *testing.T) {
	out := newOutput()
	d := taptrace.NewDecoder(out, nil, counter(0), taptrace.Options{MaxPending: 100, IdleTimeout: time.Minute})
	for i := 0; i < 1000; i++ {
		d.Trace(trace(tracetest.HTTPStreamed(uint64(i+1), fmt.Sprint("/", i))[0], 0))
	}
	if d.Pending() != 100 || d.Stats().Evicted != 900 {
		t.Fatalf("pending %d evicted %d", d.Pending(), d.Stats().Evicted)
	}
	for _, e := range out.all()[:900] {
		if e.State != decode.Partial || !strings.Contains(e.Error, "no response") {
			t.Fatalf("evicted exchange %s %q", e.State, e.Error)
		}
	}
	d.Expire(tracetest.Base().Add(2 * time.Minute))
	if d.Pending() != 0 || d.Stats().Expired != 100 {
		t.Fatalf("after expiry pending %d expired %d", d.Pending(), d.Stats().Expired)
	}
}

func TestSocketTracesReplayed(t *testing.T) {
	out := newOutput()
	op := &opener{}
	d := taptrace.NewDecoder(out, taptrace.Opener(op.open), counter(0), taptrace.Options{})
	sb := tracetest.SocketBuffered(1)
	sb.GetSocketBufferedTrace().WriteTruncated = true
	d.Trace(trace(sb, 1))
	for i, seg := range tracetest.SocketStreamed(9, 2) {
		d.Trace(trace(seg, i))
	}
	if len(op.streams) != 2 || d.Pending() != 0 {
		t.Fatalf("%d streams, %d pending", len(op.streams), d.Pending())
	}
	b, s := op.streams[0], op.streams[1]
	if b.client != netip.MustParseAddrPort("10.2.0.5:33000") || b.server != netip.MustParseAddrPort("10.2.0.1:9000") {
		t.Errorf("buffered sides %v -> %v", b.client, b.server)
	}
	req, resp := len(tracetest.SocketEvents(1)[0].GetRead().GetData().GetAsBytes()), len(tracetest.SocketEvents(1)[1].GetWrite().GetData().GetAsBytes())
	if got, want := strings.Join(b.ops, ","), fmt.Sprintf("c2s:%d,s2c:%d,gap s2c,close", req, resp); got != want {
		t.Errorf("buffered ops %s", got)
	}
	if !strings.HasPrefix(b.data[decode.ClientToServer].String(), "GET /sock/1 ") || !strings.HasSuffix(b.data[decode.ServerToClient].String(), "hello") {
		t.Errorf("buffered data %q / %q", b.data[0].String(), b.data[1].String())
	}
	if s.client != netip.MustParseAddrPort("10.2.0.6:34000") || strings.Join(s.ops, ",") != fmt.Sprintf("c2s:%d,s2c:%d,close", req, resp) || s.closed != decode.FlowClosed {
		t.Errorf("streamed %v %v %s", s.client, s.ops, s.closed)
	}
}

// A cluster-side socket tap: Envoy writes the request, so Envoy is the
// client and reads are the server's answer.
func TestSocketUpstreamSideSwapsRoles(t *testing.T) {
	op := &opener{}
	d := taptrace.NewDecoder(newOutput(), taptrace.Opener(op.open), counter(0), taptrace.Options{})
	evs := tracetest.SocketEvents(1)
	evs[0].EventSelector, evs[1].EventSelector = &tapv3.SocketEvent_Write_{Write: &tapv3.SocketEvent_Write{Data: evs[0].GetRead().GetData()}},
		&tapv3.SocketEvent_Read_{Read: &tapv3.SocketEvent_Read{Data: evs[1].GetWrite().GetData()}}
	d.Trace(trace(&tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_SocketBufferedTrace{SocketBufferedTrace: &tapv3.SocketBufferedTrace{
		Connection: tracetest.Conn("10.9.0.1", "10.2.0.1", 443, 50000), Events: evs}}}, 1))
	s := op.streams[0]
	if s.client != netip.MustParseAddrPort("10.2.0.1:50000") || s.server != netip.MustParseAddrPort("10.9.0.1:443") ||
		!strings.HasPrefix(s.data[decode.ClientToServer].String(), "GET ") {
		t.Fatalf("upstream tap: %v -> %v, c2s %q", s.client, s.server, s.data[0].String())
	}
}

// Traces with nothing in them, or with only garbage-looking fields, are
// counted and never crash.
func TestOddTraces(t *testing.T) {
	out := newOutput()
	d := taptrace.NewDecoder(out, taptrace.Opener(new(opener).open), counter(0), taptrace.Options{})
	d.Trace(nil)
	d.Trace(&sources.Trace{})
	d.Trace(trace(&tapv3.TraceWrapper{}, 1))
	d.Trace(trace(&tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_HttpBufferedTrace{}}, 1))
	d.Trace(trace(&tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_HttpStreamedTraceSegment{HttpStreamedTraceSegment: &tapv3.HttpStreamedTraceSegment{}}}, 1))
	d.Trace(trace(&tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_SocketBufferedTrace{}}, 1))
	d.Trace(trace(&tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_SocketStreamedTraceSegment{}}, 1))
	d.Flush()
	if st := d.Stats(); st.Empty != 5 || st.Traces != 5 || d.Pending() != 0 {
		t.Errorf("stats %+v", st)
	}
	if len(out.all()) != 0 {
		t.Errorf("exchanges %+v", out.all())
	}
}

// Body bytes held by unfinished streamed exchanges are bounded too: many
// open uploads finalise the oldest instead of growing memory.
func TestStreamedByteBound(t *testing.T) {
	out := newOutput()
	d := taptrace.NewDecoder(out, nil, counter(0), taptrace.Options{MaxPendingBytes: 1 << 20})
	chunk := strings.Repeat("b", 100<<10)
	for i := 0; i < 50; i++ {
		segs := tracetest.HTTPStreamed(uint64(i+1), fmt.Sprint("/up/", i))
		d.Trace(trace(segs[0], 0))
		body := segs[1]
		body.GetHttpStreamedTraceSegment().GetRequestBodyChunk().BodyType = &tapv3.Body_AsBytes{AsBytes: []byte(chunk)}
		d.Trace(trace(body, 0))
	}
	if d.Pending() > 11 || d.Stats().Evicted < 39 {
		t.Fatalf("pending %d evicted %d with 50 uploads of 100 KiB and a 1 MiB bound", d.Pending(), d.Stats().Evicted)
	}
	d.Flush()
	for _, e := range out.all() {
		if len(e.Request.Body) != 100<<10 || !e.State.Final() {
			t.Fatalf("exchange %s: %d body bytes, %s", e.Path(), len(e.Request.Body), e.State)
		}
	}
}
