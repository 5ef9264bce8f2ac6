// Package sink is tapview's Envoy tap server. Envoy and Gloo Gateway send
// it TraceWrapper traces over gRPC (upstream's TapSinkService/StreamTaps
// and Gloo's TapService/ReportTap) or HTTP POST (binary TapRequest, or
// JSON), and it delivers them as a live sources.Source.
//
// Receiving is decoupled from decoding by one bounded queue (by count and
// by bytes): senders are never slowed by a slow decoder, and a flood is
// dropped and counted instead of growing memory.
package sink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/sink/auth"
)

// Defaults for Config fields left zero.
const (
	DefaultQueueTraces     = 16384
	DefaultQueueBytes      = 256 << 20
	DefaultMaxMessageBytes = 16 << 20
	// DefaultMaxConns and DefaultMaxConnsPerIP bound open connections
	// per listener: one address (a sender, or one attacker) gets at most
	// a sixteenth of the total, so it takes 16 addresses to fill it.
	DefaultMaxConns      = 1024
	DefaultMaxConnsPerIP = 64
	// DefaultHandshakeTimeout bounds a new connection's TLS and HTTP/2
	// handshake (gRPC) or its request headers (HTTP): a sender needs
	// milliseconds, a slowloris would hold the slot for minutes.
	DefaultHandshakeTimeout = 5 * time.Second
	// DefaultIdleTimeout closes a connection with no request or RPC in
	// progress: Envoy reconnects on demand, an attacker's idle
	// connections stop counting against the limits.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultBodyTimeout bounds reading one HTTP request (headers and
	// body): the largest body at DefaultMaxMessageBytes still has half a
	// megabyte a second.
	DefaultBodyTimeout = 30 * time.Second
	// DefaultGRPCAddr and DefaultHTTPAddr listen on loopback only;
	// binding another address is an explicit choice.
	DefaultGRPCAddr = "127.0.0.1:8080"
	DefaultHTTPAddr = "127.0.0.1:8081"
)

// Config says where the sink listens and how much it may hold.
type Config struct {
	// Name is the source name traces carry ("sink" when empty).
	Name string
	// GRPCAddr and HTTPAddr are listen addresses; "" or "off" disables
	// one (not both).
	GRPCAddr, HTTPAddr string
	// TLS, when set, serves both listeners over TLS (mTLS when it
	// requires client certificates).
	TLS *tls.Config
	// Token, when set, is required as "Authorization: Bearer <token>".
	Token string
	// QueueTraces and QueueBytes bound traces received but not yet
	// taken by the pipeline; beyond either, traces are dropped and
	// counted.
	QueueTraces int
	QueueBytes  int64
	// MaxMessageBytes bounds one gRPC message or HTTP body.
	MaxMessageBytes int
	// MaxConns bounds open connections per listener, MaxConnsPerIP
	// those from one peer address; connections over either are closed
	// as soon as they are accepted.
	MaxConns, MaxConnsPerIP int
	// HandshakeTimeout, IdleTimeout and BodyTimeout (Default* when
	// zero) close connections that hold a slot without sending: see the
	// defaults.
	HandshakeTimeout, IdleTimeout, BodyTimeout time.Duration
	// Tee, when set, also receives every trace the pipeline is given
	// (the watch service re-streams them).
	Tee Tee
}

// Tee receives a copy of each delivered trace with its estimated memory
// size (for byte-bounded queues). Publish must not block.
type Tee interface {
	Publish(t sources.Trace, size int64)
}

// queued is one received trace waiting for Run.
type queued struct {
	t    sources.Trace
	size int64
}

// Sink is the tap server; it implements sources.Source and
// sources.Counter.
type Sink struct {
	cfg     Config
	grpcLn  net.Listener
	httpLn  net.Listener
	queue   chan queued
	qbytes  atomic.Int64
	counts  counters
	running atomic.Bool
	closeMu sync.Mutex
	closed  bool
}

type counters struct {
	received, dropped, malformed, refused atomic.Int64
	streams, requests                     atomic.Int64
	overLimit                             atomic.Int64 // connections closed by limitListener
}

// New binds the listeners now, so a busy port or a bad address fails
// before the UI starts; serving begins in Run.
func New(cfg Config) (*Sink, error) {
	if cfg.Name == "" {
		cfg.Name = "sink"
	}
	if cfg.QueueTraces <= 0 {
		cfg.QueueTraces = DefaultQueueTraces
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxConnsPerIP <= 0 {
		cfg.MaxConnsPerIP = min(DefaultMaxConnsPerIP, cfg.MaxConns)
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	s := &Sink{cfg: cfg, queue: make(chan queued, cfg.QueueTraces)}
	var err error
	if s.grpcLn, err = s.listen("gRPC", cfg.GRPCAddr); err != nil {
		return nil, err
	}
	if s.httpLn, err = s.listen("HTTP", cfg.HTTPAddr); err != nil {
		s.Close()
		return nil, err
	}
	if s.grpcLn == nil && s.httpLn == nil {
		return nil, errors.New("sink: both --grpc and --http are off; nothing to listen on")
	}
	return s, nil
}

func (s *Sink) listen(what, addr string) (net.Listener, error) {
	if addr == "" || strings.EqualFold(addr, "off") {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sink: %s listener: %w", what, err)
	}
	return newLimitListener(ln, s.cfg.MaxConnsPerIP, s.cfg.MaxConns, func() { s.counts.overLimit.Add(1) }), nil
}

// Name is the source name.
func (s *Sink) Name() string { return s.cfg.Name }

// GRPCAddr returns the bound gRPC address, or nil when off.
func (s *Sink) GRPCAddr() net.Addr { return addrOf(s.grpcLn) }

// HTTPAddr returns the bound HTTP address, or nil when off.
func (s *Sink) HTTPAddr() net.Addr { return addrOf(s.httpLn) }

func addrOf(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}

// Counts returns what the sink received, dropped and rejected so far.
func (s *Sink) Counts() sources.Counts {
	return sources.Counts{
		Received:  s.counts.received.Load(),
		Dropped:   s.counts.dropped.Load(),
		Malformed: s.counts.malformed.Load(),
		Refused:   s.counts.refused.Load(),
	}
}

// Close releases the listeners of a Sink whose Run was never called.
func (s *Sink) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, ln := range []net.Listener{s.grpcLn, s.httpLn} {
		if ln != nil {
			if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// enqueue offers a received trace to Run without ever blocking the
// sender; it reports false (and counts a drop) when the queue is full.
func (s *Sink) enqueue(t sources.Trace, size int) bool {
	sz := int64(size)
	if s.qbytes.Add(sz) > s.cfg.QueueBytes {
		s.qbytes.Add(-sz)
		s.counts.dropped.Add(1)
		return false
	}
	select {
	case s.queue <- queued{t: t, size: sz}:
		s.counts.received.Add(1)
		return true
	default:
		s.qbytes.Add(-sz)
		s.counts.dropped.Add(1)
		return false
	}
}

// Run serves both listeners until ctx is cancelled and hands traces to
// emit, which must be a sources.TraceEmitter. Long-lived sender streams
// are cut after a short grace period on shutdown.
func (s *Sink) Run(ctx context.Context, emit sources.Emitter) error {
	te, ok := emit.(sources.TraceEmitter)
	if !ok {
		s.Close()
		return errors.New("sink: the pipeline's emitter does not accept traces")
	}
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("sink: Run called twice")
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	serveErr := make(chan error, 2)
	var gs *grpc.Server
	var hs *http.Server
	if s.grpcLn != nil {
		gs = s.newGRPCServer()
		wg.Go(func() {
			if err := gs.Serve(s.grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				serveErr <- fmt.Errorf("sink: gRPC: %w", err)
			}
		})
	}
	if s.httpLn != nil {
		hs = s.newHTTPServer()
		wg.Go(func() {
			var err error
			if s.cfg.TLS != nil {
				err = hs.ServeTLS(s.httpLn, "", "")
			} else {
				err = hs.Serve(s.httpLn)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("sink: HTTP: %w", err)
			}
		})
	}
	emit.Status(sources.Status{Time: time.Now(), Source: s.cfg.Name, Level: sources.Info, Kind: "listening", Message: s.describe()})

	err := s.drain(ctx, te, emit, serveErr)
	cancel()
	s.shutdown(gs, hs)
	wg.Wait()
	return err
}

// drain moves queued traces to the emitter (and the tee) and reports new
// drops and rejections once a second.
func (s *Sink) drain(ctx context.Context, te sources.TraceEmitter, emit sources.Emitter, serveErr <-chan error) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var ordinal uint64
	var last sources.Counts
	var lastOver int64
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-serveErr:
			return err
		case q := <-s.queue:
			s.qbytes.Add(-q.size)
			ordinal++
			q.t.Ordinal = ordinal
			te.Trace(q.t)
			if s.cfg.Tee != nil {
				s.cfg.Tee.Publish(q.t, q.size)
			}
		case now := <-tick.C:
			c := s.Counts()
			if c.Dropped > last.Dropped {
				emit.Status(sources.Status{Time: now, Source: s.cfg.Name, Level: sources.Warning, Kind: "dropped",
					Message: fmt.Sprintf("%d traces dropped in the last second: the sink's queue is full (%d dropped in total)", c.Dropped-last.Dropped, c.Dropped)})
			}
			if c.Malformed > last.Malformed {
				emit.Status(sources.Status{Time: now, Source: s.cfg.Name, Level: sources.Warning, Kind: "malformed",
					Message: fmt.Sprintf("%d malformed tap messages rejected (%d in total)", c.Malformed-last.Malformed, c.Malformed)})
			}
			if c.Refused > last.Refused {
				emit.Status(sources.Status{Time: now, Source: s.cfg.Name, Level: sources.Warning, Kind: "refused",
					Message: fmt.Sprintf("%d requests refused without the bearer token (%d in total)", c.Refused-last.Refused, c.Refused)})
			}
			if over := s.counts.overLimit.Load(); over > lastOver {
				emit.Status(sources.Status{Time: now, Source: s.cfg.Name, Level: sources.Warning, Kind: "connections",
					Message: fmt.Sprintf("%d connections closed on arrival: over %d from one address or %d in total (%d in total)", over-lastOver, s.cfg.MaxConnsPerIP, s.cfg.MaxConns, over)})
				lastOver = over
			}
			last = c
		}
	}
}

// shutdown stops both servers, cutting streams still open after a grace
// period (Envoy keeps its tap stream open forever). The grace is short:
// Ctrl-C must end tapview within a second, and what a sender has not
// delivered by then is its to resend.
func (s *Sink) shutdown(gs *grpc.Server, hs *http.Server) {
	const grace = 400 * time.Millisecond
	var wg sync.WaitGroup
	if gs != nil {
		wg.Go(func() {
			done := make(chan struct{})
			go func() { gs.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-time.After(grace):
				gs.Stop()
				<-done
			}
		})
	}
	if hs != nil {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), grace)
			defer cancel()
			if hs.Shutdown(ctx) != nil {
				hs.Close()
			}
		})
	}
	wg.Wait()
}

func (s *Sink) describe() string {
	scheme := "plaintext"
	if s.cfg.TLS != nil {
		scheme = "TLS"
		if s.cfg.TLS.ClientAuth == tls.RequireAndVerifyClientCert {
			scheme = "mTLS"
		}
	}
	if s.cfg.Token != "" {
		scheme += " + bearer token"
	}
	var parts []string
	if s.grpcLn != nil {
		parts = append(parts, "gRPC "+s.grpcLn.Addr().String()+" (StreamTaps, ReportTap)")
	}
	if s.httpLn != nil {
		parts = append(parts, "HTTP "+s.httpLn.Addr().String()+" (POST TapRequest)")
	}
	return "listening on " + strings.Join(parts, ", ") + ", " + scheme
}

// token returns the configured bearer token checker.
func (s *Sink) token() auth.Token { return auth.Token(s.cfg.Token) }

// refused counts a request refused for a missing or wrong token.
func (s *Sink) refused() { s.counts.refused.Add(1) }
