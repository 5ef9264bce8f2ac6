package server

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pcap "github.com/tapview/tapview/proto/pcap"
	"github.com/tapview/tapview/sources"
)

// fakeHandle is a capture fed by the test.
type fakeHandle struct {
	packets chan sources.Packet
	closed  chan struct{}
	once    sync.Once
	kernel  atomic.Uint64
	device  string
	snaplen uint32
	prog    []bpf.Instruction
}

func newFakeHandle() *fakeHandle {
	return &fakeHandle{packets: make(chan sources.Packet), closed: make(chan struct{})}
}

func (h *fakeHandle) ReadPacket() (sources.Packet, error) {
	select {
	case <-h.closed:
		return sources.Packet{}, io.EOF
	default:
	}
	select {
	case p := <-h.packets:
		return p, nil
	case <-h.closed:
		return sources.Packet{}, io.EOF
	}
}

func (h *fakeHandle) Close() error {
	h.once.Do(func() { close(h.closed) })
	return nil
}

func (h *fakeHandle) Dropped() (uint64, error) { return h.kernel.Swap(0), nil }

func (h *fakeHandle) isClosed() bool {
	select {
	case <-h.closed:
		return true
	default:
		return false
	}
}

// feed sends a packet unless the handle closes first.
func (h *fakeHandle) feed(p sources.Packet) bool {
	select {
	case h.packets <- p:
		return true
	case <-h.closed:
		return false
	}
}

// opener hands out fake handles and remembers them.
type opener struct {
	mu      sync.Mutex
	handles []*fakeHandle
	opened  chan *fakeHandle
	fail    error
}

func newOpener() *opener { return &opener{opened: make(chan *fakeHandle, 16)} }

func (o *opener) open(device string, snaplen uint32, prog []bpf.Instruction) (Handle, error) {
	if o.fail != nil {
		return nil, o.fail
	}
	h := newFakeHandle()
	h.device, h.snaplen, h.prog = device, snaplen, prog
	o.mu.Lock()
	o.handles = append(o.handles, h)
	o.mu.Unlock()
	o.opened <- h
	return h, nil
}

func (o *opener) next(t *testing.T) *fakeHandle {
	t.Helper()
	select {
	case h := <-o.opened:
		return h
	case <-time.After(5 * time.Second):
		t.Fatal("no capture opened within 5s")
		return nil
	}
}

// serve starts srv on a loopback listener and returns a connected client.
func serve(t *testing.T, srv *Server) pcap.AgentClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(GRPCOptions()...)
	srv.Register(g)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pcap.NewAgentClient(conn)
}

func startReq(device, filter string, snaplen uint32) *pcap.AgentRequest {
	return &pcap.AgentRequest{Payload: &pcap.AgentRequest_Start{Start: &pcap.StartAgentCapture{
		Capture: &pcap.CaptureOptions{Device: device, Filter: filter, SnapLen: snaplen}}}}
}

func stopReq() *pcap.AgentRequest {
	return &pcap.AgentRequest{Payload: &pcap.AgentRequest_Stop{Stop: &pcap.StopAgentCapture{}}}
}

func startCapture(t *testing.T, ctx context.Context, c pcap.AgentClient, filter string) grpc.BidiStreamingClient[pcap.AgentRequest, pcap.CaptureResponse] {
	t.Helper()
	st, err := c.Capture(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(startReq("eth0", filter, 1500)); err != nil {
		t.Fatal(err)
	}
	return st
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
