package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	pcap "github.com/tapview/tapview/proto/pcap"
	"github.com/tapview/tapview/sources"
)

// recorder is an Emitter that keeps everything and lets tests wait.
type recorder struct {
	mu      sync.Mutex
	packets []sources.Packet
	notes   []sources.Status
	changed chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) Packet(p sources.Packet) {
	r.mu.Lock()
	r.packets = append(r.packets, p)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) Status(s sources.Status) {
	r.mu.Lock()
	r.notes = append(r.notes, s)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) snapshot() ([]sources.Packet, []sources.Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sources.Packet(nil), r.packets...), append([]sources.Status(nil), r.notes...)
}

// waitUntil waits until cond holds on the recorded data.
func (r *recorder) waitUntil(t *testing.T, what string, cond func([]sources.Packet, []sources.Status) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if cond(r.snapshot()) {
			return
		}
		select {
		case <-r.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			p, n := r.snapshot()
			t.Fatalf("timed out waiting for %s (have %d packets, notes %v)", what, len(p), n)
		}
	}
}

// fakeAgent is a scripted pcap.Agent.
type fakeAgent struct {
	pcap.UnimplementedAgentServer
	level     int64
	statusErr error
	capture   func(stream grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse], opts *pcap.CaptureOptions) error

	mu      sync.Mutex
	opts    []*pcap.CaptureOptions
	gotStop bool
	gotEOF  bool
}

func (f *fakeAgent) Status(context.Context, *pcap.StatusRequest) (*pcap.StatusResponse, error) {
	if f.statusErr != nil {
		return nil, f.statusErr
	}
	return &pcap.StatusResponse{Healthy: true, CompatibilityLevel: f.level}, nil
}

func (f *fakeAgent) Capture(stream grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse]) error {
	req, err := stream.Recv()
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.opts = append(f.opts, req.GetStart().GetCapture())
	f.mu.Unlock()
	return f.capture(stream, req.GetStart().GetCapture())
}

// waitStop reads requests until stop and then EOF, as a well-behaved
// client sends them, recording both.
func (f *fakeAgent) waitStop(stream grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse]) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			f.mu.Lock()
			f.gotEOF = true
			f.mu.Unlock()
			return nil
		}
		if err != nil {
			return err
		}
		if req.GetStop() != nil {
			f.mu.Lock()
			f.gotStop = true
			f.mu.Unlock()
		}
	}
}

func (f *fakeAgent) stopped() (bool, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gotStop, f.gotEOF
}

// serveAgent runs impl on a loopback port.
func serveAgent(t *testing.T, impl pcap.AgentServer, opts ...grpc.ServerOption) (string, *grpc.Server) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(opts...)
	pcap.RegisterAgentServer(g, impl)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return lis.Addr().String(), g
}

func packetResp(ts time.Time, data ...byte) *pcap.CaptureResponse {
	return &pcap.CaptureResponse{Payload: &pcap.CaptureResponse_Packet{Packet: &pcap.Packet{
		Data: data, Timestamp: timestamppb.New(ts), Length: int32(len(data) + 100)}}}
}

func messageResp(t pcap.MessageType, text, origin string) *pcap.CaptureResponse {
	return &pcap.CaptureResponse{Payload: &pcap.CaptureResponse_Message{Message: &pcap.Message{Type: t, Message: text, Origin: origin}}}
}

// runSource runs src in the background; the returned func cancels it and
// returns Run's error.
func runSource(t *testing.T, src *Source, emit sources.Emitter) (stop func() error, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- src.Run(ctx, emit) }()
	t.Cleanup(cancel)
	return func() error {
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(15 * time.Second):
			t.Fatal("Run did not return 15s after cancel")
			return nil
		}
	}, errc
}
