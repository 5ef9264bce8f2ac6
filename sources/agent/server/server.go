// Package server implements the pcap-release agent contract (gRPC service
// pcap.Agent): it captures live on this host and streams packets to the
// client, so tapview (or a real pcap-api) can collect traffic from every
// node. Filters are compiled without libpcap; the agent's own port is
// excluded so the capture never feeds on the stream that carries it.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/bpf"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pcap "github.com/tapview/tapview/proto/pcap"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/agent/wire"
	"github.com/tapview/tapview/sources/live"
	"github.com/tapview/tapview/sources/live/filter"
)

// Handle is an open capture the server reads packets from. ReadPacket is
// called from one goroutine; Close must make a blocked ReadPacket return.
type Handle interface {
	ReadPacket() (sources.Packet, error)
	Close() error
}

// dropCounter is implemented by handles that know how many packets the
// kernel dropped since the previous call; those drops are reported as
// congestion too.
type dropCounter interface {
	Dropped() (uint64, error)
}

// OpenFunc opens a capture on device with a compiled filter program whose
// accept verdict is snaplen.
type OpenFunc func(device string, snaplen uint32, prog []bpf.Instruction) (Handle, error)

// Defaults for Config fields left zero.
const (
	DefaultMaxCaptures        = 5 // as pcap-release's concurrent_captures
	DefaultQueueSize          = 16384
	DefaultQueueBytes         = 32 << 20
	DefaultCongestionInterval = time.Second
	maxDeviceName             = 15 // IFNAMSIZ - 1

	// coalesceDelay is how long the sender waits for more packets after
	// emptying the queue in a burst; it bounds the latency it adds.
	coalesceDelay = 500 * time.Microsecond
)

// Config tunes a Server.
type Config struct {
	// MaxCaptures limits concurrent captures; further requests get
	// ResourceExhausted, which clients show as LIMIT_REACHED.
	MaxCaptures int
	// ExcludeTCPPorts are dropped from every capture: the agent's own
	// listening port, so the capture does not feed on itself.
	ExcludeTCPPorts []uint16
	// Open opens captures; nil means live AF_PACKET capture.
	Open OpenFunc
	// QueueSize and QueueBytes bound the packets (count and captured
	// bytes) held per capture while the client is slower than the
	// capture; beyond either, packets are dropped and counted.
	QueueSize  int
	QueueBytes int64
	// CongestionInterval is how often drops are reported as CONGESTED.
	CongestionInterval time.Duration
	// Origin names this agent in Messages (usually the node name).
	Origin string
	// Log receives one line per capture start and end; nil discards.
	Log *slog.Logger
}

// Server serves pcap.Agent. Create it with New and register it with
// Register.
type Server struct {
	pcap.UnimplementedAgentServer
	cfg      Config
	slots    chan struct{}
	active   sync.WaitGroup
	running  atomic.Int64
	draining atomic.Bool
	drainCh  chan struct{}
	drainMu  sync.Once
}

// New returns a Server with defaults filled in.
func New(cfg Config) *Server {
	if cfg.MaxCaptures <= 0 {
		cfg.MaxCaptures = DefaultMaxCaptures
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.CongestionInterval <= 0 {
		cfg.CongestionInterval = DefaultCongestionInterval
	}
	if cfg.Open == nil {
		cfg.Open = openLive
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, slots: make(chan struct{}, cfg.MaxCaptures), drainCh: make(chan struct{})}
}

func openLive(device string, snaplen uint32, prog []bpf.Instruction) (Handle, error) {
	h, err := live.Open(device, snaplen, prog)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// HandshakeTimeout bounds a new connection's TLS and HTTP/2 handshake;
// grpc-go's default of 120 s lets anyone who reaches the port hold
// connections open without a certificate.
const HandshakeTimeout = 5 * time.Second

// GRPCOptions are the gRPC server options an agent should use: the
// reflection-free packet codec (same bytes on the wire), keepalive so a
// client that vanished without closing its connection is noticed and its
// capture freed, an enforcement policy that lets clients ping, and bounds
// on what a connection may hold before it captures anything (handshake
// time, idle time without an RPC, streams, header size).
func GRPCOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		wire.ServerOption(),
		grpc.ConnectionTimeout(HandshakeTimeout),
		grpc.MaxConcurrentStreams(32),
		grpc.MaxHeaderListSize(64 << 10),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, MaxConnectionIdle: 2 * time.Minute}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	}
}

// Register adds the Agent service to a gRPC server.
func (s *Server) Register(g grpc.ServiceRegistrar) { pcap.RegisterAgentServer(g, s) }

// Running returns the number of captures in progress.
func (s *Server) Running() int { return int(s.running.Load()) }

// Status reports readiness and contract level 1, which pcap-apis require.
func (s *Server) Status(context.Context, *pcap.StatusRequest) (*pcap.StatusResponse, error) {
	healthy := !s.draining.Load()
	msg := fmt.Sprintf("tapview agent: %d of %d captures running", s.Running(), s.cfg.MaxCaptures)
	if !healthy {
		msg = "tapview agent: draining"
	}
	return &pcap.StatusResponse{Healthy: healthy, CompatibilityLevel: pcap.CompatibilityLevel, Message: msg}, nil
}

// Drain refuses new captures, ends running ones as if the client had sent
// stop (remaining packets, then CAPTURE_STOPPED and status OK) and waits
// until they are done or ctx ends.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	s.drainMu.Do(func() { close(s.drainCh) })
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("agent drain: %d captures still running: %w", s.Running(), ctx.Err())
	}
}

// Capture runs one capture for the lifetime of the stream.
func (s *Server) Capture(stream grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse]) error {
	if s.draining.Load() {
		return status.Error(codes.Unavailable, "agent is draining")
	}
	opts, err := s.readStart(stream)
	if err != nil {
		return err
	}
	prog, err := filter.Compile(opts.GetFilter(), filter.Options{SnapLen: opts.GetSnapLen(), ExcludeTCPPorts: s.cfg.ExcludeTCPPorts})
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	select {
	case s.slots <- struct{}{}:
	default:
		return status.Errorf(codes.ResourceExhausted, "agent runs %d captures, the limit", s.cfg.MaxCaptures)
	}
	defer func() { <-s.slots }()
	s.active.Add(1)
	defer s.active.Done()
	if s.draining.Load() { // Drain may have started while we validated
		return status.Error(codes.Unavailable, "agent is draining")
	}

	h, err := s.cfg.Open(opts.GetDevice(), opts.GetSnapLen(), prog)
	if err != nil {
		return status.Errorf(codes.FailedPrecondition, "cannot capture on %q: %v", opts.GetDevice(), err)
	}
	s.running.Add(1)
	defer s.running.Add(-1)
	client := "unknown"
	if p, ok := peer.FromContext(stream.Context()); ok {
		client = p.Addr.String()
	}
	log := s.cfg.Log.With("client", client, "device", opts.GetDevice(), "filter", opts.GetFilter(), "snaplen", opts.GetSnapLen())
	log.Info("capture started")
	c := &capture{srv: s, stream: stream, h: h, opts: opts, queue: make(chan sources.Packet, s.cfg.QueueSize)}
	err = c.run()
	log.Info("capture ended", "packets", c.sent, "dropped", c.dropped.Load(), "kernel_dropped", c.kernelDrops, "err", err)
	return err
}

// readStart reads and validates the first request.
func (s *Server) readStart(stream grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse]) (*pcap.CaptureOptions, error) {
	req, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil, status.Error(codes.InvalidArgument, "stream closed before a start request")
	}
	if err != nil {
		return nil, status.Errorf(status.Code(err), "read start request: %v", err)
	}
	opts := req.GetStart().GetCapture()
	if opts == nil {
		return nil, status.Error(codes.InvalidArgument, "the first request must be a start with capture options")
	}
	if err := validate(opts); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return opts, nil
}

// validate checks options the way pcap-release agents do, so the same
// requests fail the same way.
func validate(o *pcap.CaptureOptions) error {
	d := o.GetDevice()
	if d == "" {
		return errors.New("capture options: device is empty")
	}
	if len(d) > maxDeviceName {
		return fmt.Errorf("capture options: device name longer than %d bytes", maxDeviceName)
	}
	// The kernel's dev_valid_name rules, plus printable ASCII only.
	if d == "." || d == ".." {
		return fmt.Errorf("capture options: %q is not a device name", d)
	}
	for _, c := range []byte(d) {
		if c <= ' ' || c > '~' || c == '/' || c == ':' {
			return fmt.Errorf("capture options: device name %q has a forbidden character", d)
		}
	}
	if len(o.GetFilter()) > filter.MaxLength {
		return fmt.Errorf("capture options: filter is %d bytes, the limit is %d", len(o.GetFilter()), filter.MaxLength)
	}
	for _, c := range []byte(o.GetFilter()) {
		if c < ' ' || c > '~' {
			return errors.New("capture options: filter has a non-printable character")
		}
	}
	if o.GetSnapLen() == 0 {
		return errors.New("capture options: snapLen must not be zero")
	}
	return nil
}

// capture is the state of one running capture.
type capture struct {
	srv    *Server
	stream grpc.BidiStreamingServer[pcap.AgentRequest, pcap.CaptureResponse]
	h      Handle
	opts   *pcap.CaptureOptions
	queue  chan sources.Packet

	readErr     error        // set by the reader before it closes queue
	queued      atomic.Int64 // bytes in queue
	dropped     atomic.Uint64
	reported    uint64 // drops already reported
	kernelDrops uint64
	sent        uint64
}

// read is the capture goroutine. It never blocks on the client: when the
// queue is full the packet is dropped and counted.
func (c *capture) read() {
	defer close(c.queue)
	for {
		p, err := c.h.ReadPacket()
		if err != nil {
			c.readErr = err
			return
		}
		n := int64(len(p.Data))
		if c.queued.Load()+n > c.srv.cfg.QueueBytes {
			c.dropped.Add(1)
			continue
		}
		select {
		case c.queue <- p:
			c.queued.Add(n)
		default:
			c.dropped.Add(1)
		}
	}
}

// run streams until the client stops, disconnects, the agent drains or
// the capture fails. It returns only after the capture goroutine ended and
// the handle is closed.
func (c *capture) run() error {
	go c.read()
	defer func() {
		_ = c.h.Close()
		for range c.queue { // wait for the reader to finish
		}
	}()
	stop, bad := c.watchRequests()
	tick := time.NewTicker(c.srv.cfg.CongestionInterval)
	defer tick.Stop()
	ctx := c.stream.Context()
	drain := c.srv.drainCh
	stopping := false
	for {
		select {
		case p, ok := <-c.queue:
			// Send what is queued in one go before looking at the other
			// cases again: the select costs more than a queue read.
			for n := 0; ; n++ {
				if !ok {
					return c.finish(stopping)
				}
				c.queued.Add(-int64(len(p.Data)))
				if err := c.stream.Send(packetResponse(p)); err != nil {
					return err
				}
				c.sent++
				if n == 256 {
					break
				}
				select {
				case p, ok = <-c.queue:
					continue
				default:
				}
				if n > 0 {
					// Traffic is streaming: let packets gather instead
					// of waking this goroutine and the transport's
					// writer (one write per packet) for each one. A
					// single packet goes out at once.
					time.Sleep(coalesceDelay)
				}
				break
			}
		case <-stop:
			stop, stopping = nil, true
			_ = c.h.Close()
		case <-drain:
			drain, stopping = nil, true
			_ = c.h.Close()
		case err := <-bad:
			return err
		case <-tick.C:
			if err := c.reportCongestion(); err != nil {
				return err
			}
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// finish ends the stream after the queue is empty: CAPTURE_STOPPED and OK
// when asked to stop, Aborted when the capture failed on its own (the
// interface went away), which clients show as INSTANCE_UNAVAILABLE.
func (c *capture) finish(stopping bool) error {
	if err := c.reportCongestion(); err != nil {
		return err
	}
	if !stopping {
		return status.Errorf(codes.Aborted, "capture on %q ended: %v", c.opts.GetDevice(), c.readErr)
	}
	msg := fmt.Sprintf("capture on %q stopped after %d packets", c.opts.GetDevice(), c.sent)
	return c.stream.Send(c.message(pcap.MessageType_CAPTURE_STOPPED, msg))
}

// watchRequests reads the client's requests after start: stop (or closing
// the send side) asks for a clean end; anything else is a protocol error.
func (c *capture) watchRequests() (stop <-chan struct{}, bad <-chan error) {
	stopc := make(chan struct{})
	badc := make(chan error, 1)
	go func() {
		req, err := c.stream.Recv()
		switch {
		case errors.Is(err, io.EOF) || err == nil && req.GetStop() != nil:
			close(stopc)
		case err != nil:
			// The stream is gone; run sees ctx.Done.
		default:
			badc <- status.Error(codes.InvalidArgument, "only a stop request may follow start")
		}
	}()
	return stopc, badc
}

// reportCongestion sends CONGESTED when packets were dropped since the
// last report, here or in the kernel.
func (c *capture) reportCongestion() error {
	var kernel uint64
	if dc, ok := c.h.(dropCounter); ok {
		if n, err := dc.Dropped(); err == nil {
			kernel = n
			c.kernelDrops += n
		}
	}
	total := c.dropped.Load()
	fresh := total - c.reported
	if fresh == 0 && kernel == 0 {
		return nil
	}
	c.reported = total
	msg := fmt.Sprintf("agent dropped %d packets (%d in total) because the client is not keeping up", fresh, total)
	if kernel > 0 {
		msg = fmt.Sprintf("agent dropped %d packets (%d in total), kernel dropped %d (%d in total): capture cannot keep up",
			fresh, total, kernel, c.kernelDrops)
	}
	return c.stream.Send(c.message(pcap.MessageType_CONGESTED, msg))
}

func (c *capture) message(t pcap.MessageType, text string) *pcap.CaptureResponse {
	return &pcap.CaptureResponse{Payload: &pcap.CaptureResponse_Message{Message: &pcap.Message{
		Type: t, Message: text, Origin: c.srv.cfg.Origin,
	}}}
}

// packetMsg holds the parts of one packet response in a single
// allocation: one message per packet makes allocations count.
type packetMsg struct {
	resp    pcap.CaptureResponse
	payload pcap.CaptureResponse_Packet
	packet  pcap.Packet
	ts      timestamppb.Timestamp
}

func packetResponse(p sources.Packet) *pcap.CaptureResponse {
	m := &packetMsg{}
	m.packet.Data = p.Data
	m.packet.Length = int32(min(p.OrigLen, 1<<31-1))
	m.ts.Seconds, m.ts.Nanos = p.Timestamp.Unix(), int32(p.Timestamp.Nanosecond())
	m.packet.Timestamp = &m.ts
	m.payload.Packet = &m.packet
	m.resp.Payload = &m.payload
	return &m.resp
}
