package sink_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	tapsvc "github.com/envoyproxy/go-control-plane/envoy/service/tap/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/tapview/tapview/proto/gloo"
	"github.com/tapview/tapview/sources/sink"
	"github.com/tapview/tapview/sources/sink/auth"
	"github.com/tapview/tapview/sources/sink/auth/authtest"
	"github.com/tapview/tapview/sources/taptrace/tracetest"
)

// rawCodec sends []byte messages as they are, to put bytes on the wire
// that no protobuf encoder would produce.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*[]byte)) = data.Materialize()
	return nil
}
func (rawCodec) Name() string { return "proto" }

var _ encoding.CodecV2 = rawCodec{}

func sendRaw(t *testing.T, cc *grpc.ClientConn, method string, msg []byte) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, method, grpc.ForceCodecV2(rawCodec{}))
	if err != nil {
		return err
	}
	if err := st.SendMsg(msg); err != nil {
		return err
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	var out []byte
	return st.RecvMsg(&out)
}

// Undecodable and empty messages are counted and answered with an error
// status; the sink keeps serving.
func TestMalformedMessages(t *testing.T) {
	em := newCollector()
	s := start(t, sink.Config{MaxMessageBytes: 64 << 10}, em)
	cc := dial(t, s.GRPCAddr().String())
	url := "http://" + s.HTTPAddr().String() + "/"

	for _, m := range []string{tapsvc.TapSinkService_StreamTaps_FullMethodName, gloo.TapService_ReportTap_FullMethodName} {
		err := sendRaw(t, cc, m, []byte{0x1a, 0x05, 0xff, 0xff})
		if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "unmarshal") {
			t.Errorf("%s garbage: %v", m, err)
		}
	}
	// Well-formed protobuf with no trace.
	err := reportTap(context.Background(), cc, []*tapv3.TraceWrapper{{}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("empty trace: %v", err)
	}
	// Over the message limit.
	big := tracetest.HTTPBuffered(1, "/big", 200, strings.Repeat("x", 100<<10))
	if err := reportTap(context.Background(), cc, []*tapv3.TraceWrapper{big}); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("oversized: %v", err)
	}

	for _, c := range []struct {
		ctype string
		body  string
		code  int
	}{
		{"application/x-protobuf", "\xff\xff\xff", 400},
		{"application/x-protobuf", "", 400},
		{"application/json", `{"http_buffered_trace": {"request": 5}}`, 400},
		{"application/json", `{"no_such": 1}`, 400},
		{"application/json", `{"trace_data": {}}`, 400},
		{"application/json", `{"http_buffered_trace": {}} garbage`, 400},
		{"application/json", strings.Repeat(" ", 70<<10), 413},
	} {
		if code := post(t, http.DefaultClient, url, c.ctype, []byte(c.body)); code != c.code {
			t.Errorf("%s %.40q: %d, want %d", c.ctype, c.body, code, c.code)
		}
	}
	resp, err := http.Get(url)
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + s.HTTPAddr().String() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	// Still serving.
	if err := reportTap(context.Background(), cc, []*tapv3.TraceWrapper{tracetest.HTTPBuffered(1, "/after", 200, "")}); err != nil {
		t.Fatal(err)
	}
	em.wait(t, 1)
	// grpc-go answers a message it cannot decode before the handler
	// sees the error and counts it; give the count a moment.
	deadline := time.Now().Add(5 * time.Second)
	for s.Counts().Malformed < 11 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c := s.Counts(); c.Malformed != 11 || c.Received != 1 {
		t.Errorf("counts %+v, want 11 malformed and 1 received", c)
	}
	time.Sleep(1100 * time.Millisecond)
	em.mu.Lock()
	defer em.mu.Unlock()
	found := false
	for _, n := range em.notes {
		found = found || n.Kind == "malformed"
	}
	if !found {
		t.Errorf("no malformed note in %+v", em.notes)
	}
}

// TLS, mTLS and the bearer token: refused without, accepted with, on
// both gRPC and HTTP.
func TestTLSAndToken(t *testing.T) {
	files := authtest.New(t)
	serverTLS, err := auth.ServerTLS(files.ServerCert, files.ServerKey, files.CA)
	if err != nil {
		t.Fatal(err)
	}
	em := newCollector()
	s := start(t, sink.Config{TLS: serverTLS, Token: "s3cret"}, em)
	ws := []*tapv3.TraceWrapper{tracetest.HTTPBuffered(1, "/tls", 200, "")}
	ctx := context.Background()
	clientTLS := func(cert, key string) *tls.Config {
		c, err := auth.ClientTLS(files.CA, cert, key, "")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	good := clientTLS(files.ClientCert, files.ClientKey)
	addr := s.GRPCAddr().String()

	cases := []struct {
		name string
		opts []grpc.DialOption
		ok   bool
	}{
		{"plaintext", []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, false},
		{"TLS without client cert", []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(clientTLS("", ""))), auth.Token("s3cret").Credentials(false)}, false},
		{"client cert from another CA", []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(clientTLS(files.OtherClientCert, files.OtherClientKey))), auth.Token("s3cret").Credentials(false)}, false},
		{"mTLS without token", []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(good))}, false},
		{"mTLS wrong token", []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(good)), auth.Token("guess").Credentials(false)}, false},
		{"mTLS and token", []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(good)), auth.Token("s3cret").Credentials(false)}, true},
	}
	for _, c := range cases {
		cc := dial(t, addr, c.opts...)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := reportTap(cctx, cc, ws)
		cancel()
		if (err == nil) != c.ok {
			t.Errorf("gRPC %s: err %v", c.name, err)
		}
		if c.name == "mTLS without token" && status.Code(err) != codes.Unauthenticated {
			t.Errorf("gRPC %s: %v, want Unauthenticated", c.name, err)
		}
	}

	url := "https://" + s.HTTPAddr().String() + "/"
	body := binaryTapRequest(t, ws[0])
	httpCases := []struct {
		name   string
		tls    *tls.Config
		header []string
		code   int // 0: the handshake must fail
	}{
		{"no client cert", clientTLS("", ""), []string{"Authorization", "Bearer s3cret"}, 0},
		{"mTLS no token", good, nil, 401},
		{"mTLS wrong token", good, []string{"Authorization", "Bearer nope"}, 401},
		{"mTLS and token", good, []string{"Authorization", "bearer s3cret"}, 200},
	}
	for _, c := range httpCases {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: c.tls}, Timeout: 5 * time.Second}
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
		for i := 0; i+1 < len(c.header); i += 2 {
			req.Header.Set(c.header[i], c.header[i+1])
		}
		resp, err := client.Do(req)
		switch {
		case c.code == 0 && err == nil:
			resp.Body.Close()
			t.Errorf("HTTP %s: accepted (%d)", c.name, resp.StatusCode)
		case c.code != 0 && err != nil:
			t.Errorf("HTTP %s: %v", c.name, err)
		case c.code != 0:
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Errorf("HTTP %s: %d, want %d", c.name, resp.StatusCode, c.code)
			}
		}
	}
	if resp, err := http.Post("http://"+s.HTTPAddr().String()+"/", "application/x-protobuf", strings.NewReader(string(body))); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plaintext HTTP accepted by a TLS sink")
		}
	}

	em.wait(t, 2)
	// Refused: two wrong tokens each on gRPC and HTTP, the HTTP TLS
	// handshake without a client certificate and the plaintext request.
	// The server logs a failed handshake after the client has given up,
	// so give the count a moment.
	deadline := time.Now().Add(5 * time.Second)
	for s.Counts().Refused < 6 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c := s.Counts(); c.Received != 2 || c.Refused != 6 {
		t.Errorf("counts %+v, want 2 received and 6 refused", c)
	}
}

// A stalled pipeline: the queue fills, the excess is dropped and counted
// exactly, and senders are never blocked.
func TestFloodIsDroppedAndCounted(t *testing.T) {
	em := newCollector()
	em.gate = make(chan struct{})
	s := start(t, sink.Config{QueueTraces: 100}, em)
	cc := dial(t, s.GRPCAddr().String())
	const sent = 2000
	ws := make([]*tapv3.TraceWrapper, sent)
	for i := range ws {
		ws[i] = tracetest.HTTPBuffered(i, "/flood", 200, "x")
	}
	done := make(chan error, 1)
	go func() { done <- streamTaps(context.Background(), cc, "flood", ws) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the sender was blocked by a stalled pipeline")
	}
	c := s.Counts()
	if c.Received+c.Dropped != sent || c.Received > 101 || c.Dropped < sent-101 {
		t.Fatalf("counts %+v for %d sent with a queue of 100", c, sent)
	}
	close(em.gate)
	em.wait(t, int(c.Received))
	time.Sleep(1100 * time.Millisecond)
	em.mu.Lock()
	defer em.mu.Unlock()
	if len(em.traces) != int(c.Received) {
		t.Errorf("%d delivered, %d received", len(em.traces), c.Received)
	}
	found := false
	for _, n := range em.notes {
		found = found || (n.Kind == "dropped" && strings.Contains(n.Message, "dropped"))
	}
	if !found {
		t.Errorf("no dropped note in %+v", em.notes)
	}
}

// The byte bound drops large traces even while the count bound has room.
func TestQueueByteBound(t *testing.T) {
	em := newCollector()
	em.gate = make(chan struct{})
	defer close(em.gate)
	s := start(t, sink.Config{QueueBytes: 1 << 20}, em)
	cc := dial(t, s.GRPCAddr().String())
	ws := make([]*tapv3.TraceWrapper, 40)
	for i := range ws {
		ws[i] = tracetest.HTTPBuffered(i, "/big", 200, strings.Repeat("y", 100<<10))
	}
	if err := reportTap(context.Background(), cc, ws); err != nil {
		t.Fatal(err)
	}
	c := s.Counts()
	if c.Received > 11 || c.Received+c.Dropped != 40 {
		t.Fatalf("counts %+v: 40 traces of 100 KiB with a 1 MiB byte bound", c)
	}
}
