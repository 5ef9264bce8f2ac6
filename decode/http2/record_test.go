package http2

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip compressor for grpc.UseCompressor
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/view"
	"github.com/tapview/tapview/export/synth"
)

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback listener: %v", err)
	}
	return l
}

func webMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /small", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"received":%d}`, n)
	})
	mux.HandleFunc("GET /gzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		gz.Write(bytes.Repeat([]byte("compressible pets "), 500))
		gz.Close()
	})
	mux.HandleFunc("GET /trailers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "body before trailers")
		w.Header().Set("X-Checksum", "c0ffee")
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("GET /item/{n}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "item %s %s", r.PathValue("n"), strings.Repeat("x", 3000))
	})
	return mux
}

// recordH2C runs a Go net/http server with prior-knowledge h2c and a Go
// client on loopback, recording the client's connection.
func recordH2C(t *testing.T, rec *synth.Recording) {
	l := listenLoopback(t)
	var sp http.Protocols
	sp.SetHTTP1(true)
	sp.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: webMux(), Protocols: &sp}
	go srv.Serve(l)
	defer srv.Close()

	var cp http.Protocols
	cp.SetUnencryptedHTTP2(true)
	tr := &http.Transport{DialContext: rec.DialContext, Protocols: &cp, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	base := "http://" + l.Addr().String()
	get := func(path string) *http.Response {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := get("/small"); r.ProtoMajor != 2 {
		t.Fatalf("client spoke %s, want HTTP/2", r.Proto)
	}
	resp, err := client.Post(base+"/upload", "application/octet-stream", bytes.NewReader(bytes.Repeat([]byte("u"), 100_000)))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	get("/gzip")
	get("/trailers")
	get("/missing")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			get(fmt.Sprintf("/item/%d", i))
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/slow", nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	time.Sleep(50 * time.Millisecond) // let the RST_STREAM reach the wire
}

// recordUpgrade makes the h2c Upgrade dance by hand (no Go client does
// it) against x/net's h2c handler: an HTTP/1.1 GET asking for h2c, the
// 101, then the response on stream 1 and one more request on stream 3.
func recordUpgrade(t *testing.T, rec *synth.Recording) {
	l := listenLoopback(t)
	srv := &http.Server{Handler: h2c.NewHandler(webMux(), &http2.Server{})}
	go srv.Serve(l)
	defer srv.Close()
	conn, err := rec.DialContext(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /small HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", l.Addr())
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fr := http2.NewFramer(conn, br)
	io.WriteString(conn, preface)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", l.Addr().String()}, {":path", "/missing"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
	done := map[uint32]bool{}
	for !done[1] || !done[3] {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading upgraded connection: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.DataFrame:
			done[f.StreamID] = done[f.StreamID] || f.StreamEnded()
		case *http2.HeadersFrame:
			done[f.StreamID] = done[f.StreamID] || f.StreamEnded()
		}
	}
	fr.WriteGoAway(0, http2.ErrCodeNo, nil)
}

// testServer implements grpc.testing.TestService the way the interop
// tests describe it.
type testServer struct {
	testpb.UnimplementedTestServiceServer
}

func (testServer) UnaryCall(_ context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if s := in.GetResponseStatus(); s.GetCode() != 0 {
		return nil, status.Error(codes.Code(s.GetCode()), s.GetMessage())
	}
	return &testpb.SimpleResponse{Payload: &testpb.Payload{Body: bytes.Repeat([]byte{'r'}, int(in.GetResponseSize()))}}, nil
}

func (testServer) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, s grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	for _, p := range in.GetResponseParameters() {
		if err := s.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: make([]byte, p.GetSize())}}); err != nil {
			return err
		}
	}
	return nil
}

func (testServer) StreamingInputCall(s grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	var n int32
	for {
		in, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return s.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: n})
		}
		if err != nil {
			return err
		}
		n += int32(len(in.GetPayload().GetBody()))
	}
}

func (testServer) FullDuplexCall(s grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	for {
		in, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, p := range in.GetResponseParameters() {
			if err := s.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: make([]byte, p.GetSize())}}); err != nil {
				return err
			}
		}
	}
}

// recordGRPC runs grpc-go's server and client on loopback through every
// call shape, recording the client's connection.
func recordGRPC(t *testing.T, rec *synth.Recording) {
	l := listenLoopback(t)
	gs := grpc.NewServer()
	testpb.RegisterTestServiceServer(gs, testServer{})
	go gs.Serve(l)
	defer gs.Stop()
	cc, err := grpc.NewClient("passthrough:///"+l.Addr().String(), grpc.WithContextDialer(rec.DialGRPC),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := testpb.NewTestServiceClient(cc)
	ctx := context.Background()
	params := func(sizes ...int32) []*testpb.ResponseParameters {
		var ps []*testpb.ResponseParameters
		for _, s := range sizes {
			ps = append(ps, &testpb.ResponseParameters{Size: s})
		}
		return ps
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Unary.
	_, err = c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: 10, Payload: &testpb.Payload{Body: []byte("hello pets")}})
	must(err)
	// An error status (trailers-only response).
	_, err = c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: 5, Message: `pet "Luna" not found ✗`}})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("error call: %v", err)
	}
	// Unimplemented method.
	_, err = c.UnimplementedCall(ctx, &testpb.Empty{})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("unimplemented call: %v", err)
	}
	// gzip-compressed unary.
	_, err = c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: 2000, Payload: &testpb.Payload{Body: bytes.Repeat([]byte("gzip me "), 400)}},
		grpc.UseCompressor("gzip"))
	must(err)
	// Server streaming: 5 responses.
	ss, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: params(1, 2, 3, 4, 5)})
	must(err)
	for {
		if _, err := ss.Recv(); err != nil {
			break
		}
	}
	// Client streaming: 4 requests.
	cs, err := c.StreamingInputCall(ctx)
	must(err)
	for i := range 4 {
		must(cs.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, 100*(i+1))}}))
	}
	_, err = cs.CloseAndRecv()
	must(err)
	// Bidi: 3 requests, 3 responses, interleaved.
	bs, err := c.FullDuplexCall(ctx)
	must(err)
	for i := range 3 {
		must(bs.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: params(int32(10 + i))}))
		_, err := bs.Recv()
		must(err)
	}
	must(bs.CloseSend())
	if _, err := bs.Recv(); err != io.EOF {
		t.Fatalf("bidi end: %v", err)
	}
	// A bidi call the client cancels after one exchange: RST_STREAM CANCEL.
	cctx, cancel := context.WithCancel(ctx)
	bs, err = c.FullDuplexCall(cctx)
	must(err)
	must(bs.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: params(7)}))
	_, err = bs.Recv()
	must(err)
	cancel()
	time.Sleep(50 * time.Millisecond)
}

func TestRecordedH2CAndGRPC(t *testing.T) {
	rec := synth.NewRecording(synth.Options{})
	recordH2C(t, rec)
	recordUpgrade(t, rec)
	recordGRPC(t, rec)
	time.Sleep(50 * time.Millisecond)
	p := New()
	out := decodePackets(t, rec.Packets(), p, decode.Limits{})
	out.checkFinal()

	var h2, rpc []*decode.Exchange
	var h1 int
	for _, x := range byStream(out.exchanges()) {
		switch x.Proto {
		case "h2":
			h2 = append(h2, x)
		case "grpc":
			rpc = append(rpc, x)
		default:
			h1++
		}
	}
	if h1 != 1 {
		t.Errorf("%d HTTP/1 exchanges, want the upgrade request only", h1)
	}
	checkWeb(t, h2)
	checkGRPC(t, rpc)
	if st := p.Stats(); st.UnknownFields != 0 || st.Resyncs != 0 || st.GRPCMessages != 25 {
		t.Errorf("stats %+v", st)
	}
}

func checkWeb(t *testing.T, xs []*decode.Exchange) {
	byPath := map[string][]*decode.Exchange{}
	for _, x := range xs {
		path := "(no request)"
		if x.Request != nil {
			path = x.Request.Target
			if x.Request.Proto == "HTTP/1.1" {
				path = "(upgrade) " + path
			}
		}
		byPath[path] = append(byPath[path], x)
	}
	one := func(path string) *decode.Exchange {
		t.Helper()
		if len(byPath[path]) == 0 {
			t.Fatalf("no exchange for %s (have %v)", path, len(xs))
		}
		return byPath[path][0]
	}
	if x := one("/small"); x.State != decode.Complete || string(x.Response.Body) != "hello" || x.Request.Method != "GET" || !strings.HasPrefix(x.Request.Host, "127.0.0.1:") {
		t.Errorf("/small: %s", dump(x))
	}
	if x := one("/upload"); x.State != decode.Complete || x.Request.BodySize != 100_000 || string(x.Response.Body) != `{"received":100000}` {
		t.Errorf("/upload: %s %d", x.State, x.Request.BodySize)
	}
	if x := one("/gzip"); x.State != decode.Complete || fmt.Sprint(x.Response.ContentEncoding) != "[gzip]" || x.Response.DecodedSize != 9000 {
		t.Errorf("/gzip: %v decoded %d %q", x.Response.ContentEncoding, x.Response.DecodedSize, x.Response.DecodeError)
	}
	if x := one("/trailers"); fmt.Sprint(x.Response.Trailers) != "[{x-checksum c0ffee}]" || x.State != decode.Complete {
		t.Errorf("/trailers: %q", x.Response.Trailers)
	}
	if x := one("/missing"); x.Status() != 404 || x.State != decode.Complete {
		t.Errorf("/missing: %d", x.Status())
	}
	for i := range 8 {
		if x := one(fmt.Sprintf("/item/%d", i)); x.State != decode.Complete || x.Response.BodySize != int64(len(fmt.Sprintf("item %d ", i))+3000) {
			t.Errorf("/item/%d: %s %d", i, x.State, x.Response.BodySize)
		}
	}
	if x := one("/slow"); x.State != decode.Reset || x.Error != "RST_STREAM CANCEL" || x.Status() != 200 {
		t.Errorf("/slow: %s %q", x.State, x.Error)
	}
	// The upgraded connection: stream 1 answers the HTTP/1.1 request.
	if x := one("(upgrade) /small"); x.StreamID != 1 || x.Request.Method != "GET" || x.Status() != 200 || string(x.Response.Body) != "hello" || x.State != decode.Complete {
		t.Errorf("upgrade stream: %s", dump(x))
	}
	if len(byPath["/missing"]) != 2 || byPath["/missing"][1].Status() != 404 {
		t.Errorf("stream 3 after the upgrade missing")
	}
}

func checkGRPC(t *testing.T, xs []*decode.Exchange) {
	type want struct {
		method       string
		status       int
		msg          string
		req, resp    int
		state        decode.ExchangeState
		err          string
		compressed   bool
		checkPayload func(*testing.T, *decode.Exchange)
	}
	wants := []want{
		{method: "UnaryCall", req: 1, resp: 1, state: decode.Complete, checkPayload: func(t *testing.T, x *decode.Exchange) {
			var in testpb.SimpleRequest
			if err := proto.Unmarshal(x.Request.Parts[0].Data, &in); err != nil || string(in.GetPayload().GetBody()) != "hello pets" {
				t.Errorf("request message: %v %v", &in, err)
			}
			lines, ok := view.DecodeRawProtobuf(x.Request.Parts[0].Data)
			if !ok || !strings.Contains(strings.Join(lines, "\n"), `"hello pets"`) {
				t.Errorf("raw protobuf view: %q", lines)
			}
		}},
		{method: "UnaryCall", status: 5, msg: `pet "Luna" not found ✗`, req: 1, resp: 0, state: decode.Complete},
		{method: "UnimplementedCall", status: 12, msg: "method UnimplementedCall not implemented", req: 1, resp: 0, state: decode.Complete},
		{method: "UnaryCall", req: 1, resp: 1, state: decode.Complete, compressed: true, checkPayload: func(t *testing.T, x *decode.Exchange) {
			var in testpb.SimpleRequest
			if err := proto.Unmarshal(x.Request.Parts[0].Data, &in); err != nil || len(in.GetPayload().GetBody()) != 3200 {
				t.Errorf("decompressed request: %v", err)
			}
			if x.Request.Parts[0].Size >= 3200 || x.Request.HeaderValue("grpc-encoding") != "gzip" {
				t.Errorf("request message should be gzip on the wire: %d bytes", x.Request.Parts[0].Size)
			}
		}},
		{method: "StreamingOutputCall", req: 1, resp: 5, state: decode.Complete},
		{method: "StreamingInputCall", req: 4, resp: 1, state: decode.Complete},
		{method: "FullDuplexCall", req: 3, resp: 3, state: decode.Complete},
		{method: "FullDuplexCall", status: -1, req: 1, resp: 1, state: decode.Reset, err: "RST_STREAM CANCEL"},
	}
	if len(xs) != len(wants) {
		for _, x := range xs {
			t.Log(dump(x))
		}
		t.Fatalf("%d gRPC exchanges, want %d", len(xs), len(wants))
	}
	for i, w := range wants {
		x := xs[i]
		g := x.GRPC
		if g == nil || g.Service != "grpc.testing.TestService" || g.Method != w.method || g.Status != w.status || g.Message != w.msg {
			t.Errorf("call %d: %+v, want %s status %d %q", i, g, w.method, w.status, w.msg)
			continue
		}
		if x.State != w.state || x.Error != w.err {
			t.Errorf("call %d %s: %s %q", i, w.method, x.State, x.Error)
		}
		if len(x.Request.Parts) != w.req || len(x.Response.Parts) != w.resp {
			t.Errorf("call %d %s: %d/%d messages, want %d/%d", i, w.method, len(x.Request.Parts), len(x.Response.Parts), w.req, w.resp)
		}
		for _, m := range []*decode.Message{x.Request, x.Response} {
			for _, p := range m.Parts {
				if p.Compressed != w.compressed || p.Truncated {
					t.Errorf("call %d %s: part compressed=%v truncated=%v", i, w.method, p.Compressed, p.Truncated)
				}
				if _, ok := view.DecodeRawProtobuf(p.Data); !ok {
					t.Errorf("call %d %s: part is not protobuf", i, w.method)
				}
			}
		}
		if w.checkPayload != nil {
			w.checkPayload(t, x)
		}
	}
}
