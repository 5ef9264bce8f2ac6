package sink_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	tapsvc "github.com/envoyproxy/go-control-plane/envoy/service/tap/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	dtap "github.com/tapview/tapview/decode/taptrace"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/proto/gloo"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/sink"
	"github.com/tapview/tapview/sources/taptrace/tracetest"
)

func dial(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// streamTaps sends traces on one upstream TapSinkService stream, the
// identifier in the first message only, as Envoy's contract says.
func streamTaps(ctx context.Context, cc *grpc.ClientConn, node string, ws []*tapv3.TraceWrapper) error {
	st, err := tapsvc.NewTapSinkServiceClient(cc).StreamTaps(ctx)
	if err != nil {
		return err
	}
	for i, w := range ws {
		req := &tapsvc.StreamTapsRequest{Trace: w, TraceId: uint64(1000 + i)}
		if i == 0 {
			req.Identifier = &tapsvc.StreamTapsRequest_Identifier{Node: &corev3.Node{Id: node}, TapId: "t1"}
		}
		if err := st.Send(req); err != nil {
			return sendErr(st, err)
		}
	}
	_, err = st.CloseAndRecv()
	return err
}

// reportTap sends traces on one Gloo TapService stream.
func reportTap(ctx context.Context, cc *grpc.ClientConn, ws []*tapv3.TraceWrapper) error {
	st, err := gloo.NewTapServiceClient(cc).ReportTap(ctx)
	if err != nil {
		return err
	}
	for _, w := range ws {
		if err := st.Send(&gloo.TapRequest{TraceData: w}); err != nil {
			return sendErr(st, err)
		}
	}
	_, err = st.CloseAndRecv()
	return err
}

// sendErr returns the RPC's status when Send failed because the server
// already ended the stream (grpc-go reports io.EOF from Send then).
func sendErr[Resp any](st interface{ CloseAndRecv() (*Resp, error) }, err error) error {
	if errors.Is(err, io.EOF) {
		_, err = st.CloseAndRecv()
	}
	return err
}

func post(t testing.TB, client *http.Client, url, contentType string, body []byte, header ...string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func binaryTapRequest(t testing.TB, w *tapv3.TraceWrapper) []byte {
	b, err := proto.Marshal(&gloo.TapRequest{TraceData: w})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exchanges decodes delivered traces with the real trace decoder, TCP
// decoder and HTTP/1 parser, as the pipeline does.
func exchanges(traces []sources.Trace) []*decode.Exchange {
	store := decode.NewStore()
	td := tcp.NewDecoder(store, tcp.Config{Parsers: []decode.Parser{http1.New()}})
	var id uint64 = 1 << 40
	d := dtap.NewDecoder(store, dtap.Opener(td.OpenStream), func() uint64 { id++; return id }, dtap.Options{})
	for i := range traces {
		d.Trace(&traces[i])
	}
	d.Flush()
	td.Finish(time.Now().Add(time.Hour))
	ex := store.Exchanges()
	sort.Slice(ex, func(i, j int) bool { return ex[i].Path() < ex[j].Path() })
	return ex
}

// Buffered, streamed and socket traces over both gRPC services and HTTP
// (binary and JSON) all arrive, and decode into exchanges with method,
// path, status, headers and bodies.
func TestEveryTransportAndTraceKind(t *testing.T) {
	em := newCollector()
	s := start(t, sink.Config{}, em)
	ctx := context.Background()
	cc := dial(t, s.GRPCAddr().String())
	url := "http://" + s.HTTPAddr().String() + "/submit_trace"

	up := []*tapv3.TraceWrapper{tracetest.HTTPBuffered(1, "/grpc-upstream/buffered", 200, `{"a":1}`), tracetest.GRPCBuffered(2), tracetest.SocketBuffered(3)}
	up = append(up, tracetest.HTTPStreamed(50, "/grpc-upstream/streamed")...)
	up = append(up, tracetest.SocketStreamed(51, 4)...)
	if err := streamTaps(ctx, cc, "envoy-a", up); err != nil {
		t.Fatalf("StreamTaps: %v", err)
	}
	gl := []*tapv3.TraceWrapper{tracetest.HTTPBuffered(5, "/gloo/one", 201, "x"), tracetest.HTTPBuffered(6, "/gloo/two", 503, "down")}
	if err := reportTap(ctx, cc, gl); err != nil {
		t.Fatalf("ReportTap: %v", err)
	}
	if code := post(t, http.DefaultClient, url, "application/octet-stream", binaryTapRequest(t, tracetest.HTTPBuffered(7, "/http/binary", 302, ""))); code != 200 {
		t.Fatalf("binary POST: %d", code)
	}
	var js bytes.Buffer
	for _, w := range tracetest.HTTPStreamed(60, "/http/json-streamed") {
		b, _ := protojson.MarshalOptions{Multiline: true, UseProtoNames: true}.Marshal(w)
		js.Write(b)
	}
	tr, _ := protojson.Marshal(&gloo.TapRequest{TraceData: tracetest.HTTPBuffered(8, "/http/json-taprequest", 418, "teapot")})
	js.Write(tr)
	if code := post(t, http.DefaultClient, url, "application/json; charset=utf-8", js.Bytes()); code != 200 {
		t.Fatalf("JSON POST: %d", code)
	}

	want := len(up) + len(gl) + 1 + 6 + 1
	traces := em.wait(t, want)
	time.Sleep(50 * time.Millisecond)
	if n := em.count(); n != want {
		t.Fatalf("%d traces delivered, want %d", n, want)
	}
	for i, tr := range traces {
		if tr.Ordinal != uint64(i+1) || tr.Source != "sink" || tr.Arrival.IsZero() {
			t.Fatalf("trace %d: ordinal %d source %q", i, tr.Ordinal, tr.Source)
		}
	}
	if traces[0].Node != "envoy-a" || traces[0].TraceID != 1000 || traces[len(up)].Node != "127.0.0.1" {
		t.Errorf("node/trace id: %q %d, gloo node %q", traces[0].Node, traces[0].TraceID, traces[len(up)].Node)
	}

	type row struct {
		method, path string
		status       int
		body, header string
	}
	want2 := []row{
		{"GET", "/gloo/one", 201, "x", "curl/8.5.0"},
		{"GET", "/gloo/two", 503, "down", "curl/8.5.0"},
		{"GET", "/grpc-upstream/buffered", 200, `{"a":1}`, "curl/8.5.0"},
		{"POST", "/grpc-upstream/streamed", 201, "created", ""},
		{"POST", "/helloworld.Greeter/SayHello", 200, "\x00\x00\x00\x00\x0b\x0a\x09hello bob", ""},
		{"GET", "/http/binary", 302, "", "curl/8.5.0"},
		{"POST", "/http/json-streamed", 201, "created", ""},
		{"GET", "/http/json-taprequest", 418, "teapot", "curl/8.5.0"},
		{"GET", "/sock/3", 200, "hello", "test"},
		{"GET", "/sock/4", 200, "hello", "test"},
	}
	ex := exchanges(traces)
	if len(ex) != len(want2) {
		for _, e := range ex {
			t.Logf("%s %s %d", e.Method(), e.Path(), e.Status())
		}
		t.Fatalf("%d exchanges, want %d", len(ex), len(want2))
	}
	for i, w := range want2 {
		e := ex[i]
		got := row{e.Method(), e.Path(), e.Status(), string(e.Response.Body), e.Request.HeaderValue("user-agent")}
		if got != w || e.State != decode.Complete {
			t.Errorf("exchange %d: got %+v (%s), want %+v", i, got, e.State, w)
		}
	}
	if c := s.Counts(); c.Received != int64(want) || c.Dropped != 0 || c.Malformed != 0 {
		t.Errorf("counts %+v", c)
	}
}

// Envoy may keep one stream open forever or open one stream per trace;
// both deliver everything, from many streams at once.
func TestLongLivedAndPerTraceStreams(t *testing.T) {
	em := newCollector()
	s := start(t, sink.Config{}, em)
	cc := dial(t, s.GRPCAddr().String())
	ctx := context.Background()
	const perStream, streams = 500, 4
	errs := make(chan error, 2*streams)
	for g := 0; g < streams; g++ {
		go func() {
			ws := make([]*tapv3.TraceWrapper, perStream)
			for i := range ws {
				ws[i] = tracetest.HTTPBuffered(g*perStream+i, fmt.Sprintf("/long/%d/%d", g, i), 200, "ok")
			}
			errs <- streamTaps(ctx, cc, fmt.Sprint("envoy-", g), ws)
		}()
		go func() {
			var err error
			for i := 0; i < 25 && err == nil; i++ {
				err = reportTap(ctx, cc, []*tapv3.TraceWrapper{tracetest.HTTPBuffered(i, fmt.Sprintf("/short/%d/%d", g, i), 200, "ok")})
			}
			errs <- err
		}()
	}
	for i := 0; i < 2*streams; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	traces := em.wait(t, streams*(perStream+25))
	seen := map[string]bool{}
	for _, tr := range traces {
		for _, h := range tr.Wrapper.GetHttpBufferedTrace().GetRequest().GetHeaders() {
			if h.GetKey() == ":path" {
				seen[h.GetValue()] = true
			}
		}
	}
	if len(seen) != streams*(perStream+25) {
		t.Fatalf("%d distinct traces, want %d", len(seen), streams*(perStream+25))
	}
}
