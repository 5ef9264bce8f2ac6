package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pcap "github.com/tapview/tapview/proto/pcap"
	"github.com/tapview/tapview/sources"
)

func TestStatus(t *testing.T) {
	srv := New(Config{Open: newOpener().open})
	c := serve(t, srv)
	st, err := c.Status(context.Background(), &pcap.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !st.GetHealthy() || st.GetCompatibilityLevel() != 1 {
		t.Fatalf("status %v", st)
	}
}

func TestCaptureStopDeliversEverything(t *testing.T) {
	op := newOpener()
	srv := New(Config{Open: op.open, Origin: "node-1"})
	c := serve(t, srv)
	ctx := context.Background()
	st := startCapture(t, ctx, c, "tcp port 80")
	h := op.next(t)
	if h.device != "eth0" || h.snaplen != 1500 {
		t.Fatalf("opened %q snaplen %d", h.device, h.snaplen)
	}
	ts := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	for i := 0; i < 10; i++ {
		h.feed(sources.Packet{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), OrigLen: 1000 + i, Data: []byte{byte(i), 1, 2}})
	}
	for i := 0; i < 10; i++ {
		r, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		p := r.GetPacket()
		if p == nil || p.GetData()[0] != byte(i) || p.GetLength() != int32(1000+i) ||
			!p.GetTimestamp().AsTime().Equal(ts.Add(time.Duration(i)*time.Millisecond)) {
			t.Fatalf("packet %d: %v", i, r)
		}
	}
	if srv.Running() != 1 {
		t.Fatalf("running %d", srv.Running())
	}
	if err := st.Send(stopReq()); err != nil {
		t.Fatal(err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	r, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	m := r.GetMessage()
	if m.GetType() != pcap.MessageType_CAPTURE_STOPPED || m.GetOrigin() != "node-1" || !strings.Contains(m.GetMessage(), "10 packets") {
		t.Fatalf("want CAPTURE_STOPPED, got %v", r)
	}
	if _, err := st.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("want EOF, got %v", err)
	}
	if !h.isClosed() {
		t.Error("handle still open after stop")
	}
	waitFor(t, "no running captures", func() bool { return srv.Running() == 0 })
}

func TestCloseSendAloneStops(t *testing.T) {
	op := newOpener()
	c := serve(t, New(Config{Open: op.open}))
	st := startCapture(t, context.Background(), c, "")
	op.next(t)
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	r, err := st.Recv()
	if err != nil || r.GetMessage().GetType() != pcap.MessageType_CAPTURE_STOPPED {
		t.Fatalf("got %v, %v", r, err)
	}
	if _, err := st.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("want EOF, got %v", err)
	}
}

func TestFilterCompiledWithSelfExclusion(t *testing.T) {
	op := newOpener()
	c := serve(t, New(Config{Open: op.open, ExcludeTCPPorts: []uint16{9494}}))
	startCapture(t, context.Background(), c, "tcp")
	h := op.next(t)
	vm, err := bpf.NewVM(h.prog)
	if err != nil {
		t.Fatal(err)
	}
	verdict := func(proto byte, sport, dport uint16) int {
		f := make([]byte, 54)
		f[12], f[13] = 0x08, 0x00
		f[14] = 0x45
		f[23] = proto
		f[34], f[35] = byte(sport>>8), byte(sport)
		f[36], f[37] = byte(dport>>8), byte(dport)
		n, err := vm.Run(f)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if verdict(6, 40000, 80) != 1500 {
		t.Error("tcp to port 80 not captured")
	}
	if verdict(6, 9494, 40000) != 0 || verdict(6, 40000, 9494) != 0 {
		t.Error("the agent's own port is captured")
	}
	if verdict(17, 40000, 53) != 0 {
		t.Error("user filter tcp let udp through")
	}
}

func TestInvalidRequests(t *testing.T) {
	op := newOpener()
	c := serve(t, New(Config{Open: op.open}))
	cases := []struct {
		name string
		reqs []*pcap.AgentRequest
		want string
	}{
		{"unsupported filter", []*pcap.AgentRequest{startReq("eth0", "vlan 10", 100)}, `"vlan"`},
		{"bad filter syntax", []*pcap.AgentRequest{startReq("eth0", "tcp and (", 100)}, "capture filter"},
		{"empty device", []*pcap.AgentRequest{startReq("", "", 100)}, "device"},
		{"device with slash", []*pcap.AgentRequest{startReq("../eth0", "", 100)}, "device"},
		{"device with colon", []*pcap.AgentRequest{startReq("eth0:1", "", 100)}, "device"},
		{"device dot-dot", []*pcap.AgentRequest{startReq("..", "", 100)}, "device"},
		{"device too long", []*pcap.AgentRequest{startReq("abcdefghijklmnop", "", 100)}, "device"},
		{"zero snaplen", []*pcap.AgentRequest{startReq("eth0", "", 0)}, "snapLen"},
		{"long filter", []*pcap.AgentRequest{startReq("eth0", strings.Repeat("tcp or ", 800)+"tcp", 100)}, "limit"},
		{"stop first", []*pcap.AgentRequest{stopReq()}, "start"},
		{"no options", []*pcap.AgentRequest{{Payload: &pcap.AgentRequest_Start{Start: &pcap.StartAgentCapture{}}}}, "start"},
		{"second start", []*pcap.AgentRequest{startReq("eth0", "", 100), startReq("eth0", "", 100)}, "stop"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := c.Capture(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tc.reqs {
				if err := st.Send(r); err != nil {
					t.Fatal(err)
				}
			}
			for {
				_, err = st.Recv()
				if err != nil {
					break
				}
			}
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want InvalidArgument mentioning %s", err, tc.want)
			}
		})
	}
	// The "second start" case opened a capture; it must be closed again.
	op.mu.Lock()
	defer op.mu.Unlock()
	for _, h := range op.handles {
		waitFor(t, "handle closed", h.isClosed)
	}
}

func TestStreamClosedBeforeStart(t *testing.T) {
	c := serve(t, New(Config{Open: newOpener().open}))
	st, err := c.Capture(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_ = st.CloseSend()
	if _, err := st.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("got %v", err)
	}
}

func TestOpenFailureIsFailedPrecondition(t *testing.T) {
	op := newOpener()
	op.fail = errors.New("no such device")
	c := serve(t, New(Config{Open: op.open}))
	st := startCapture(t, context.Background(), c, "")
	_, err := st.Recv()
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "no such device") {
		t.Fatalf("got %v", err)
	}
}

func TestMaxCaptures(t *testing.T) {
	op := newOpener()
	srv := New(Config{Open: op.open, MaxCaptures: 2})
	c := serve(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := startCapture(t, ctx, c, "")
	op.next(t)
	startCapture(t, ctx, c, "")
	op.next(t)
	third := startCapture(t, ctx, c, "")
	if _, err := third.Recv(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("third capture: %v, want ResourceExhausted", err)
	}
	// Ending one frees its slot.
	_ = first.CloseSend()
	for {
		if _, err := first.Recv(); err != nil {
			break
		}
	}
	waitFor(t, "one capture left", func() bool { return srv.Running() == 1 })
	startCapture(t, ctx, c, "")
	op.next(t)
}

// TestClientDisconnectFreesCapture: a client that vanishes without stop
// makes the agent close the capture, end its goroutines and free the slot.
func TestClientDisconnectFreesCapture(t *testing.T) {
	op := newOpener()
	srv := New(Config{Open: op.open, MaxCaptures: 1})
	c := serve(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	st := startCapture(t, ctx, c, "")
	h := op.next(t)
	go func() {
		for h.feed(sources.Packet{Timestamp: time.Now(), Data: []byte{1}, OrigLen: 1}) {
		}
	}()
	if _, err := st.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	waitFor(t, "handle closed", h.isClosed)
	waitFor(t, "capture ended", func() bool { return srv.Running() == 0 })
	// The slot is free again.
	st2 := startCapture(t, context.Background(), c, "")
	op.next(t)
	_ = st2.CloseSend()
}

func TestCongestionReported(t *testing.T) {
	op := newOpener()
	srv := New(Config{Open: op.open, QueueSize: 8, CongestionInterval: 20 * time.Millisecond})
	c := serve(t, srv)
	st := startCapture(t, context.Background(), c, "")
	h := op.next(t)
	// 4000 packets of 16 KiB overrun the client's flow-control window
	// while the client does not read, so the agent must drop.
	const total = 4000
	payload := make([]byte, 16<<10)
	for i := 0; i < total; i++ {
		h.feed(sources.Packet{Timestamp: time.Now(), Data: payload, OrigLen: len(payload)})
	}
	h.kernel.Store(7)
	time.Sleep(100 * time.Millisecond)
	_ = st.Send(stopReq())
	_ = st.CloseSend()
	var got, reported, kernel int
	re := regexp.MustCompile(`agent dropped (\d+) packets \((\d+) in total\)`)
	kre := regexp.MustCompile(`kernel dropped (\d+) \((\d+) in total\)`)
	for {
		r, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.GetPacket() != nil {
			got++
			continue
		}
		m := r.GetMessage()
		if m.GetType() == pcap.MessageType_CONGESTED {
			sm := re.FindStringSubmatch(m.GetMessage())
			if sm == nil {
				t.Fatalf("CONGESTED message without count: %q", m.GetMessage())
			}
			reported, _ = strconv.Atoi(sm[2])
			if km := kre.FindStringSubmatch(m.GetMessage()); km != nil {
				kernel, _ = strconv.Atoi(km[2])
			}
		}
	}
	if reported == 0 {
		t.Fatal("no drops reported although the client did not read")
	}
	if got+reported != total {
		t.Errorf("received %d + reported dropped %d != fed %d", got, reported, total)
	}
	if kernel != 7 {
		t.Errorf("kernel drops reported %d, want 7", kernel)
	}
}

func TestDrain(t *testing.T) {
	op := newOpener()
	srv := New(Config{Open: op.open})
	c := serve(t, srv)
	st := startCapture(t, context.Background(), c, "")
	op.next(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- srv.Drain(ctx) }()
	r, err := st.Recv()
	if err != nil || r.GetMessage().GetType() != pcap.MessageType_CAPTURE_STOPPED {
		t.Fatalf("got %v, %v", r, err)
	}
	if _, err := st.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("want EOF, got %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	s, _ := c.Status(context.Background(), &pcap.StatusRequest{})
	if s.GetHealthy() {
		t.Error("draining agent reports healthy")
	}
	st2 := startCapture(t, context.Background(), c, "")
	if _, err := st2.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("capture while draining: %v", err)
	}
}

// TestCaptureEndsOnItsOwn: when the capture fails (interface gone) the
// stream ends with Aborted, which clients show as INSTANCE_UNAVAILABLE.
func TestCaptureEndsOnItsOwn(t *testing.T) {
	op := newOpener()
	c := serve(t, New(Config{Open: op.open}))
	st := startCapture(t, context.Background(), c, "")
	h := op.next(t)
	h.Close()
	_, err := st.Recv()
	if status.Code(err) != codes.Aborted {
		t.Fatalf("got %v", err)
	}
}

func ExampleServer() {
	srv := New(Config{MaxCaptures: 3, ExcludeTCPPorts: []uint16{9494}, Origin: "node-a"})
	fmt.Println(srv.Running())
	// Output: 0
}

// TestQueueBoundedByBytes: big frames are dropped once the queued bytes
// reach the limit, even when the packet count is far below its bound.
func TestQueueBoundedByBytes(t *testing.T) {
	op := newOpener()
	srv := New(Config{Open: op.open, QueueBytes: 1 << 20, CongestionInterval: 20 * time.Millisecond})
	c := serve(t, srv)
	st := startCapture(t, context.Background(), c, "")
	h := op.next(t)
	big := make([]byte, 64<<10)
	const total = 400 // 25 MiB offered to a client that does not read
	for i := 0; i < total; i++ {
		h.feed(sources.Packet{Timestamp: time.Now(), Data: big, OrigLen: len(big)})
	}
	_ = st.CloseSend()
	got, reported := 0, 0
	re := regexp.MustCompile(`\((\d+) in total\)`)
	for {
		r, err := st.Recv()
		if err != nil {
			break
		}
		if r.GetPacket() != nil {
			got++
		} else if m := re.FindStringSubmatch(r.GetMessage().GetMessage()); m != nil {
			reported, _ = strconv.Atoi(m[1])
		}
	}
	if reported == 0 || got+reported != total {
		t.Fatalf("received %d, reported dropped %d, fed %d", got, reported, total)
	}
}
