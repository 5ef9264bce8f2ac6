package sink

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	tapsvc "github.com/envoyproxy/go-control-plane/envoy/service/tap/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/tapview/tapview/proto/gloo"
	"github.com/tapview/tapview/sources"
)

// maxStreams bounds concurrent sender streams per connection. Envoy opens
// one long-lived stream per tap, or one per trace in turn; a hundred is
// ample and keeps one connection from pinning a thousand receive buffers.
const maxStreams = 100

// maxHeaderList bounds the request headers of one RPC (HPACK-decoded):
// a sender needs a path, a content type and a token.
const maxHeaderList = 64 << 10

func (s *Sink) newGRPCServer() *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(s.cfg.MaxMessageBytes),
		grpc.MaxConcurrentStreams(maxStreams),
		grpc.MaxHeaderListSize(maxHeaderList),
		// A connection must finish its TLS and HTTP/2 handshake within
		// this (grpc-go's default is 120 s, which a slowloris holds).
		grpc.ConnectionTimeout(s.cfg.HandshakeTimeout),
		// Connections without an RPC for IdleTimeout get GOAWAY, so idle
		// ones (an attacker's, or a sender that left) free their slot;
		// pings find peers that vanished.
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: s.cfg.IdleTimeout, Time: time.Minute, Timeout: 20 * time.Second}),
		// Envoy pings long-lived streams; allow it rather than closing
		// the connection with ENHANCE_YOUR_CALM, but not a ping flood.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	}
	if s.cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.cfg.TLS)))
	}
	opts = append(opts, s.token().ServerOptions(s.refused)...)
	gs := grpc.NewServer(opts...)
	tapsvc.RegisterTapSinkServiceServer(gs, &upstreamService{s: s})
	gloo.RegisterTapServiceServer(gs, &glooService{s: s})
	return gs
}

// upstreamService serves envoy.service.tap.v3.TapSinkService.
type upstreamService struct {
	tapsvc.UnimplementedTapSinkServiceServer
	s *Sink
}

// StreamTaps accepts traces until the sender closes the stream. The node
// id arrives in the first message only; streams of one trace each and
// endless streams both work.
func (u *upstreamService) StreamTaps(stream grpc.ClientStreamingServer[tapsvc.StreamTapsRequest, tapsvc.StreamTapsResponse]) error {
	s := u.s
	s.counts.streams.Add(1)
	node := peerHost(stream.Context())
	for {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return stream.SendAndClose(&tapsvc.StreamTapsResponse{})
			}
			return s.recvError(err)
		}
		if id := req.GetIdentifier(); id != nil && id.GetNode().GetId() != "" {
			node = id.GetNode().GetId()
		}
		w := req.GetTrace()
		if w == nil && req.GetIdentifier() != nil {
			continue // an identifier-only first message
		}
		if err := s.accept(w, req.GetTraceId(), node); err != nil {
			return err
		}
	}
}

// glooService serves Gloo's envoy.service.tap.v3.TapService.
type glooService struct {
	gloo.UnimplementedTapServiceServer
	s *Sink
}

// ReportTap accepts traces until the sender closes the stream. Gloo's
// requests carry no node identity, so the peer address stands in.
func (g *glooService) ReportTap(stream grpc.ClientStreamingServer[gloo.TapRequest, gloo.TapResponse]) error {
	s := g.s
	s.counts.streams.Add(1)
	node := peerHost(stream.Context())
	for {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return stream.SendAndClose(&gloo.TapResponse{})
			}
			return s.recvError(err)
		}
		if err := s.accept(req.GetTraceData(), 0, node); err != nil {
			return err
		}
	}
}

// accept queues one received trace; a message without any trace is
// malformed and ends the stream with InvalidArgument, since the sender
// is not speaking the contract.
func (s *Sink) accept(w *tapv3.TraceWrapper, traceID uint64, node string) error {
	if w.GetTrace() == nil {
		s.counts.malformed.Add(1)
		return status.Error(codes.InvalidArgument, "tap message carries no trace (none of http_buffered_trace, http_streamed_trace_segment, socket_buffered_trace, socket_streamed_trace_segment)")
	}
	s.enqueue(sources.Trace{Wrapper: w, TraceID: traceID, Source: s.cfg.Name, Node: node, Arrival: time.Now()}, estimateSize(w))
	return nil
}

// recvError counts a failed Recv. grpc-go has already answered the
// sender: Internal "failed to unmarshal" for undecodable bytes,
// ResourceExhausted for a message over the limit; a sender going away is
// not counted.
func (s *Sink) recvError(err error) error {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.ResourceExhausted:
		s.counts.malformed.Add(1)
	case codes.Internal:
		if strings.Contains(st.Message(), "unmarshal") {
			s.counts.malformed.Add(1)
		}
	}
	return err
}

// peerHost returns the sender's IP address, used as its identity when the
// protocol carries none.
func peerHost(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
		return host
	}
	return p.Addr.String()
}
