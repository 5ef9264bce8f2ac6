package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pcap "github.com/tapview/tapview/proto/pcap"
	"github.com/tapview/tapview/sources"
)

// captureStream is the part of a pcap.Agent or pcap.API Capture stream a
// receiver uses once the start request is sent.
type captureStream interface {
	Recv() (*pcap.CaptureResponse, error)
	// stop sends the protocol's stop request.
	stop() error
	CloseSend() error
}

// endpoint opens one capture stream (one agent, or one API request).
type endpoint interface {
	// name tags packets and notes of this endpoint.
	name() string
	// open connects and sends start. The stream lives on streamCtx; ctx
	// bounds only the setup. close releases the connection.
	open(ctx, streamCtx context.Context) (st captureStream, close func(), err error)
}

// event is what an endpoint's receiver hands to the merging loop.
type event struct {
	idx      int
	isPacket bool
	packet   sources.Packet // by value: no allocation per packet
	status   *sources.Status
	done     bool
	err      error // with done: why the endpoint ended, nil when cleanly
}

// receive runs one endpoint until its stream ends. On ctx cancellation it
// stops the capture as the protocol says (stop, CloseSend, then read until
// EOF) and gives up after drainTimeout. It always sends exactly one done
// event last.
func receive(ctx context.Context, idx int, ep endpoint, drainTimeout time.Duration, events chan<- event) {
	streamCtx, cancelStream := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStream()
	st, closeConn, err := ep.open(ctx, streamCtx)
	if err != nil {
		events <- event{idx: idx, done: true, err: err}
		return
	}
	defer closeConn()

	finished := make(chan struct{})
	var gaveUp atomic.Bool
	go func() {
		select {
		case <-finished:
			return
		case <-ctx.Done():
		}
		// Only this goroutine sends after start, so Send and CloseSend
		// never race.
		_ = st.stop()
		_ = st.CloseSend()
		t := time.NewTimer(drainTimeout)
		defer t.Stop()
		select {
		case <-finished:
		case <-t.C:
			gaveUp.Store(true)
			cancelStream()
		}
	}()
	defer close(finished)

	for {
		resp, err := st.Recv()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				err = nil
			case gaveUp.Load():
				events <- event{idx: idx, status: &sources.Status{Time: time.Now(), Source: ep.name(), Level: sources.Warning,
					Kind: "timeout", Message: fmt.Sprintf("no end of stream within %v after stop; connection closed", drainTimeout)}}
				err = nil
			}
			events <- event{idx: idx, done: true, err: err}
			return
		}
		switch pl := resp.GetPayload().(type) {
		case *pcap.CaptureResponse_Packet:
			events <- event{idx: idx, isPacket: true, packet: toPacket(pl.Packet, ep.name())}
		case *pcap.CaptureResponse_Message:
			s := toStatus(pl.Message, ep.name())
			events <- event{idx: idx, status: &s}
		}
	}
}

// toPacket converts a wire packet. Agents always send Ethernet frames
// (pcap-release's own client writes them as such); a missing timestamp
// (older agents) becomes the arrival time.
func toPacket(w *pcap.Packet, source string) sources.Packet {
	var ts time.Time
	if w.GetTimestamp() != nil && w.GetTimestamp().IsValid() {
		ts = w.GetTimestamp().AsTime()
	} else {
		ts = time.Now()
	}
	orig := int(w.GetLength())
	if orig < len(w.GetData()) {
		orig = len(w.GetData())
	}
	return sources.Packet{Timestamp: ts, OrigLen: orig, LinkType: sources.LinkEthernet,
		Data: w.GetData(), Source: source, Offset: -1}
}

// toStatus turns an in-band Message into a note. Messages never end a
// stream, so none is an Error; only CAPTURE_STOPPED is plain information.
func toStatus(m *pcap.Message, source string) sources.Status {
	level := sources.Warning
	if m.GetType() == pcap.MessageType_CAPTURE_STOPPED {
		level = sources.Info
	}
	text := m.GetMessage()
	if o := m.GetOrigin(); o != "" && o != source {
		text = o + ": " + text
	}
	return sources.Status{Time: time.Now(), Source: source, Level: level, Kind: m.GetType().String(), Message: text}
}

// MessageTypeForCode maps the gRPC status that ended a capture stream to
// the MessageType a pcap-api would report for it (pcap-release's mapping),
// so a failed agent looks the same whether reached directly or via an API.
func MessageTypeForCode(c codes.Code) pcap.MessageType {
	switch c {
	case codes.InvalidArgument:
		return pcap.MessageType_INVALID_REQUEST
	case codes.Aborted, codes.Unavailable:
		return pcap.MessageType_INSTANCE_UNAVAILABLE
	case codes.Internal:
		return pcap.MessageType_CONNECTION_ERROR
	case codes.FailedPrecondition:
		return pcap.MessageType_START_CAPTURE_FAILED
	case codes.ResourceExhausted:
		return pcap.MessageType_LIMIT_REACHED
	}
	return pcap.MessageType_UNKNOWN
}

// endStatus is the note for an endpoint that ended with err.
func endStatus(source string, err error) sources.Status {
	st := sources.Status{Time: time.Now(), Source: source, Level: sources.Error}
	s, ok := status.FromError(err)
	if !ok {
		st.Kind = pcap.MessageType_CONNECTION_ERROR.String()
		st.Message = err.Error()
		return st
	}
	st.Kind = MessageTypeForCode(s.Code()).String()
	st.Message = fmt.Sprintf("%s: %s", s.Code(), s.Message())
	return st
}

// agentEndpoint is one pcap.Agent.
type agentEndpoint struct {
	addr    string
	opts    *pcap.CaptureOptions
	dial    []grpc.DialOption
	timeout time.Duration
}

func (a *agentEndpoint) name() string { return a.addr }

func (a *agentEndpoint) open(ctx, streamCtx context.Context) (captureStream, func(), error) {
	conn, err := grpc.NewClient(a.addr, a.dial...)
	if err != nil {
		return nil, nil, fmt.Errorf("agent %s: %w", a.addr, err)
	}
	client := pcap.NewAgentClient(conn)
	sctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	st, err := client.Status(sctx, &pcap.StatusRequest{})
	switch {
	case status.Code(err) == codes.Unimplemented:
	case err != nil:
		_ = conn.Close()
		return nil, nil, err
	case st.GetCompatibilityLevel() < pcap.CompatibilityLevel:
		_ = conn.Close()
		return nil, nil, status.Errorf(codes.FailedPrecondition,
			"agent speaks compatibility level %d, tapview needs %d", st.GetCompatibilityLevel(), pcap.CompatibilityLevel)
	}
	stream, err := client.Capture(streamCtx)
	if err == nil {
		err = stream.Send(&pcap.AgentRequest{Payload: &pcap.AgentRequest_Start{Start: &pcap.StartAgentCapture{Capture: a.opts}}})
	}
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	return agentStream{stream}, func() { _ = conn.Close() }, nil
}

type agentStream struct {
	grpc.BidiStreamingClient[pcap.AgentRequest, pcap.CaptureResponse]
}

func (s agentStream) stop() error {
	return s.Send(&pcap.AgentRequest{Payload: &pcap.AgentRequest_Stop{Stop: &pcap.StopAgentCapture{}}})
}

// apiEndpoint is one capture request to a pcap.API.
type apiEndpoint struct {
	label  string
	target string
	req    *pcap.StartCapture
	dial   []grpc.DialOption
}

func (a *apiEndpoint) name() string { return a.label }

func (a *apiEndpoint) open(_, streamCtx context.Context) (captureStream, func(), error) {
	conn, err := grpc.NewClient(a.target, a.dial...)
	if err != nil {
		return nil, nil, fmt.Errorf("pcap-api %s: %w", a.target, err)
	}
	stream, err := pcap.NewAPIClient(conn).Capture(streamCtx)
	if err == nil {
		err = stream.Send(&pcap.CaptureRequest{Operation: &pcap.CaptureRequest_Start{Start: a.req}})
	}
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	return apiStream{stream}, func() { _ = conn.Close() }, nil
}

type apiStream struct {
	grpc.BidiStreamingClient[pcap.CaptureRequest, pcap.CaptureResponse]
}

func (s apiStream) stop() error {
	return s.Send(&pcap.CaptureRequest{Operation: &pcap.CaptureRequest_Stop{Stop: &pcap.StopCapture{}}})
}
