package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pcap "github.com/tapview/tapview/proto/pcap"
	"github.com/tapview/tapview/sources"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// TestMessagesAndStopProtocol: every MessageType becomes a status note of
// that kind; on cancel the client sends stop, closes its side and still
// delivers what the agent flushes before EOF.
func TestMessagesAndStopProtocol(t *testing.T) {
	fa := &fakeAgent{level: 1}
	fa.capture = func(stream grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse], _ *pcap.CaptureOptions) error {
		for v := range pcap.MessageType_name {
			if err := stream.Send(messageResp(pcap.MessageType(v), fmt.Sprintf("text %d", v), "node-7")); err != nil {
				return err
			}
		}
		if err := stream.Send(packetResp(t0, 1, 2, 3)); err != nil {
			return err
		}
		if err := fa.waitStop(stream); err != nil {
			return err
		}
		// Flushed after stop: must still reach the user.
		_ = stream.Send(packetResp(t0.Add(time.Second), 4))
		_ = stream.Send(packetResp(t0.Add(2*time.Second), 5))
		return stream.Send(messageResp(pcap.MessageType_CAPTURE_STOPPED, "done", ""))
	}
	addr, _ := serveAgent(t, fa)
	src, err := New(Config{Addrs: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	stop, _ := runSource(t, src, rec)
	rec.waitUntil(t, "8 notes and a packet", func(p []sources.Packet, n []sources.Status) bool {
		return len(p) == 1 && len(n) == len(pcap.MessageType_name)
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if gotStop, gotEOF := fa.stopped(); !gotStop || !gotEOF {
		t.Errorf("agent saw stop=%v CloseSend=%v, want both", gotStop, gotEOF)
	}
	packets, notes := rec.snapshot()
	if len(packets) != 3 {
		t.Fatalf("got %d packets, want 3 (1 + 2 flushed after stop)", len(packets))
	}
	p := packets[0]
	if p.Source != addr || !p.Timestamp.Equal(t0) || p.OrigLen != 103 || p.LinkType != sources.LinkEthernet ||
		string(p.Data) != "\x01\x02\x03" || p.Ordinal != 1 || packets[2].Ordinal != 3 {
		t.Errorf("packet %+v", p)
	}
	kinds := map[string]sources.Status{}
	for _, n := range notes {
		if n.Source != addr {
			t.Errorf("note source %q, want %q", n.Source, addr)
		}
		kinds[n.Kind] = n
	}
	for v, name := range pcap.MessageType_name {
		n, ok := kinds[name]
		if !ok {
			t.Errorf("no note of kind %s", name)
			continue
		}
		if !strings.Contains(n.Message, fmt.Sprintf("text %d", v)) && name != "CAPTURE_STOPPED" {
			t.Errorf("%s: message %q", name, n.Message)
		}
		wantLevel := sources.Warning
		if name == "CAPTURE_STOPPED" {
			wantLevel = sources.Info
		}
		if n.Level != wantLevel {
			t.Errorf("%s: level %v, want %v", name, n.Level, wantLevel)
		}
	}
	if n := kinds["CONGESTED"]; !strings.Contains(n.Message, "node-7") {
		t.Errorf("origin missing from %q", n.Message)
	}
}

func TestErrorCodesMapToMessageTypes(t *testing.T) {
	cases := map[codes.Code]pcap.MessageType{
		codes.InvalidArgument:    pcap.MessageType_INVALID_REQUEST,
		codes.Aborted:            pcap.MessageType_INSTANCE_UNAVAILABLE,
		codes.Unavailable:        pcap.MessageType_INSTANCE_UNAVAILABLE,
		codes.Internal:           pcap.MessageType_CONNECTION_ERROR,
		codes.FailedPrecondition: pcap.MessageType_START_CAPTURE_FAILED,
		codes.ResourceExhausted:  pcap.MessageType_LIMIT_REACHED,
		codes.PermissionDenied:   pcap.MessageType_UNKNOWN,
		codes.Unknown:            pcap.MessageType_UNKNOWN,
	}
	for code, want := range cases {
		t.Run(code.String(), func(t *testing.T) {
			fa := &fakeAgent{level: 1}
			fa.capture = func(grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse], *pcap.CaptureOptions) error {
				return status.Error(code, "boom "+code.String())
			}
			addr, _ := serveAgent(t, fa)
			src, _ := New(Config{Addrs: []string{addr}})
			rec := newRecorder()
			err := src.Run(context.Background(), rec)
			if status.Code(errors.Unwrap(err)) != code && !strings.Contains(fmt.Sprint(err), "boom") {
				t.Fatalf("Run: %v, want the agent's error", err)
			}
			_, notes := rec.snapshot()
			if len(notes) != 1 || notes[0].Kind != want.String() || notes[0].Level != sources.Error ||
				notes[0].Source != addr || !strings.Contains(notes[0].Message, "boom") {
				t.Fatalf("notes %+v, want one %s error", notes, want)
			}
		})
	}
}

// TestMergeTwoAgents: packets of two agents come out in capture order,
// each tagged with its agent and numbered per agent.
func TestMergeTwoAgents(t *testing.T) {
	mk := func(offset int, sent chan<- struct{}) *fakeAgent {
		fa := &fakeAgent{level: 1}
		fa.capture = func(stream grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse], _ *pcap.CaptureOptions) error {
			for i := 0; i < 10; i++ {
				if err := stream.Send(packetResp(t0.Add(time.Duration(2*i+offset)*time.Millisecond), byte(2*i+offset))); err != nil {
					return err
				}
			}
			sent <- struct{}{}
			return fa.waitStop(stream)
		}
		return fa
	}
	sentA, sentB := make(chan struct{}, 1), make(chan struct{}, 1)
	addrA, _ := serveAgent(t, mk(0, sentA))
	// B starts only after A has sent everything, so A's packets must be
	// held back for B's older ones.
	gateB := make(chan struct{})
	fb := mk(1, sentB)
	inner := fb.capture
	fb.capture = func(s grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse], o *pcap.CaptureOptions) error {
		<-gateB
		return inner(s, o)
	}
	addrB, _ := serveAgent(t, fb)
	src, err := New(Config{Addrs: []string{addrA, addrB}, Reorder: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	stop, _ := runSource(t, src, rec)
	<-sentA
	time.Sleep(100 * time.Millisecond)
	if p, _ := rec.snapshot(); len(p) != 0 {
		t.Fatalf("%d packets released before the other agent delivered", len(p))
	}
	close(gateB)
	<-sentB
	rec.waitUntil(t, "19 packets", func(p []sources.Packet, _ []sources.Status) bool { return len(p) >= 19 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	packets, _ := rec.snapshot()
	if len(packets) != 20 {
		t.Fatalf("got %d packets", len(packets))
	}
	ord := map[string]uint64{}
	for i, p := range packets {
		if int(p.Data[0]) != i {
			t.Fatalf("position %d holds packet %d: not in capture order", i, p.Data[0])
		}
		want := addrA
		if i%2 == 1 {
			want = addrB
		}
		ord[p.Source]++
		if p.Source != want || p.Ordinal != ord[p.Source] {
			t.Fatalf("packet %d: source %q ordinal %d", i, p.Source, p.Ordinal)
		}
	}
	if !sort.SliceIsSorted(packets, func(i, j int) bool { return packets[i].Timestamp.Before(packets[j].Timestamp) }) {
		t.Fatal("not sorted")
	}
}

// TestAgentDiesMidCapture: one agent's process goes away; the user gets
// an INSTANCE_UNAVAILABLE note for it and the other agent keeps going.
func TestAgentDiesMidCapture(t *testing.T) {
	sentA := make(chan struct{})
	fa := &fakeAgent{level: 1}
	fa.capture = func(stream grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse], _ *pcap.CaptureOptions) error {
		for i := 3; i > 0; i-- {
			_ = stream.Send(packetResp(t0.Add(-time.Duration(i)*time.Millisecond), 'a'))
		}
		close(sentA)
		<-stream.Context().Done()
		return nil
	}
	more := make(chan struct{})
	fb := &fakeAgent{level: 1}
	fb.capture = func(stream grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse], _ *pcap.CaptureOptions) error {
		_ = stream.Send(packetResp(t0, 'b'))
		<-more
		_ = stream.Send(packetResp(t0.Add(time.Second), 'b'))
		return fb.waitStop(stream)
	}
	addrA, gA := serveAgent(t, fa)
	addrB, _ := serveAgent(t, fb)
	src, _ := New(Config{Addrs: []string{addrA, addrB}, Reorder: 10 * time.Second})
	rec := newRecorder()
	stop, _ := runSource(t, src, rec)
	<-sentA
	// A's packets are older than B's first, so they go out once B has
	// delivered; B's own packet is held for A.
	rec.waitUntil(t, "A's packets", func(p []sources.Packet, _ []sources.Status) bool { return len(p) == 3 })
	gA.Stop() // the agent dies: connections closed, stream broken
	rec.waitUntil(t, "note about the dead agent and B's held packet", func(p []sources.Packet, n []sources.Status) bool {
		return len(n) > 0 && len(p) == 4
	})
	_, notes := rec.snapshot()
	if notes[0].Source != addrA || notes[0].Kind != "INSTANCE_UNAVAILABLE" || notes[0].Level != sources.Error {
		t.Fatalf("note %+v", notes[0])
	}
	// With A gone, B's packets are no longer held for it.
	close(more)
	rec.waitUntil(t, "B's later packet", func(p []sources.Packet, _ []sources.Status) bool {
		return len(p) == 5
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v (one agent ended cleanly)", err)
	}
}

// TestDrainTimeout: an agent that ignores stop is cut off after the drain
// timeout, with a note.
func TestDrainTimeout(t *testing.T) {
	fa := &fakeAgent{level: 1}
	fa.capture = func(stream grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse], _ *pcap.CaptureOptions) error {
		<-stream.Context().Done()
		return nil
	}
	addr, _ := serveAgent(t, fa)
	src, _ := New(Config{Addrs: []string{addr}, Transport: Transport{DrainTimeout: 200 * time.Millisecond}})
	rec := newRecorder()
	stop, _ := runSource(t, src, rec)
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Run took %v after cancel", d)
	}
	_, notes := rec.snapshot()
	if len(notes) != 1 || notes[0].Kind != "timeout" || !strings.Contains(notes[0].Message, "200ms") {
		t.Fatalf("notes %+v", notes)
	}
}

func TestCaptureOptionsSent(t *testing.T) {
	for _, tc := range []struct {
		in   Capture
		want *pcap.CaptureOptions
	}{
		{Capture{}, &pcap.CaptureOptions{Device: "eth0", SnapLen: 65535}},
		{Capture{Device: "ens5", Filter: "port 80", SnapLen: 96}, &pcap.CaptureOptions{Device: "ens5", Filter: "port 80", SnapLen: 96}},
	} {
		fa := &fakeAgent{level: 1}
		fa.capture = func(grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse], *pcap.CaptureOptions) error {
			return nil
		}
		addr, _ := serveAgent(t, fa)
		src, _ := New(Config{Addrs: []string{addr}, Capture: tc.in})
		if err := src.Run(context.Background(), newRecorder()); err != nil {
			t.Fatal(err)
		}
		got := fa.opts[0]
		if got.GetDevice() != tc.want.Device || got.GetFilter() != tc.want.Filter || got.GetSnapLen() != tc.want.SnapLen {
			t.Errorf("sent %v, want %v", got, tc.want)
		}
	}
}

func TestStatusCheck(t *testing.T) {
	old := &fakeAgent{level: 0}
	old.capture = func(grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse], *pcap.CaptureOptions) error {
		t.Error("capture started on an incompatible agent")
		return nil
	}
	addr, _ := serveAgent(t, old)
	src, _ := New(Config{Addrs: []string{addr}})
	rec := newRecorder()
	if err := src.Run(context.Background(), rec); err == nil {
		t.Fatal("no error for an incompatible agent")
	}
	if _, notes := rec.snapshot(); len(notes) != 1 || notes[0].Kind != "START_CAPTURE_FAILED" {
		t.Fatalf("notes %+v", notes)
	}

	// An agent without Status (Unimplemented) is still used.
	noStatus := &fakeAgent{statusErr: status.Error(codes.Unimplemented, "no")}
	noStatus.capture = func(s grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse], _ *pcap.CaptureOptions) error {
		return s.Send(packetResp(t0, 9))
	}
	addr2, _ := serveAgent(t, noStatus)
	src2, _ := New(Config{Addrs: []string{addr2}})
	rec2 := newRecorder()
	if err := src2.Run(context.Background(), rec2); err != nil {
		t.Fatal(err)
	}
	if p, _ := rec2.snapshot(); len(p) != 1 {
		t.Fatalf("%d packets", len(p))
	}
}

func TestUnreachableAgent(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	src, _ := New(Config{Addrs: []string{addr}, Transport: Transport{SetupTimeout: 2 * time.Second}})
	rec := newRecorder()
	if err := src.Run(context.Background(), rec); err == nil {
		t.Fatal("no error for an unreachable agent")
	}
	if _, notes := rec.snapshot(); len(notes) != 1 || notes[0].Kind != "INSTANCE_UNAVAILABLE" {
		t.Fatalf("notes %+v", notes)
	}
}

func TestNewValidates(t *testing.T) {
	for _, addrs := range [][]string{nil, {"no-port"}, {"a:1", "a:1"}} {
		if _, err := New(Config{Addrs: addrs}); err == nil {
			t.Errorf("New(%q) accepted", addrs)
		}
	}
	src, err := New(Config{Addrs: []string{"10.0.0.1:9494", "10.0.0.2:9494"}})
	if err != nil || src.Name() != "agents 10.0.0.1:9494,10.0.0.2:9494" {
		t.Fatalf("%v %q", err, src.Name())
	}
}

// TestOversizedPacketRefused: a server sending frames far beyond any
// snaplen is cut off instead of making the client buffer them.
func TestOversizedPacketRefused(t *testing.T) {
	fa := &fakeAgent{level: 1}
	fa.capture = func(s grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse], _ *pcap.CaptureOptions) error {
		return s.Send(packetResp(t0, make([]byte, 2<<20)...))
	}
	addr, _ := serveAgent(t, fa)
	src, _ := New(Config{Addrs: []string{addr}})
	rec := newRecorder()
	if err := src.Run(context.Background(), rec); err == nil {
		t.Fatal("no error")
	}
	if p, n := rec.snapshot(); len(p) != 0 || len(n) != 1 || n[0].Level != sources.Error {
		t.Fatalf("packets %d notes %+v", len(p), n)
	}
}
