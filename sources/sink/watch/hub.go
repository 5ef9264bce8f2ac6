// Package watch lets a tapview sink deployed in a cluster re-stream the
// raw traces it receives to tapview instances elsewhere (a laptop), over
// tapview's own gRPC service tapview.watch.v1.TraceWatch: Hub is the
// server side (`tapview sink --serve`), Client the source behind
// `tapview connect sink`.
package watch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	watchpb "github.com/tapview/tapview/proto/watch"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/sink/auth"
)

// Defaults for HubOptions fields left zero.
const (
	DefaultWatcherTraces = 4096
	DefaultWatcherBytes  = 64 << 20
	DefaultMaxWatchers   = 32
	DefaultStatsEvery    = time.Second
)

// HubOptions bound what the hub holds for its watchers.
type HubOptions struct {
	// WatcherTraces and WatcherBytes bound each watcher's queue; a slow
	// watcher loses traces (counted and reported to it), others do not.
	WatcherTraces int
	WatcherBytes  int64
	// MaxWatchers bounds concurrent watchers.
	MaxWatchers int
	// StatsEvery is how often watchers get counters.
	StatsEvery time.Duration
	// Counts returns the sink's counters for the stats events (optional).
	Counts func() sources.Counts
}

// Hub fans traces out to watchers. Publish never blocks.
type Hub struct {
	opts     HubOptions
	mu       sync.RWMutex
	watchers map[*watcher]struct{}
	n        atomic.Int32
}

type watcher struct {
	queue   chan item
	bytes   atomic.Int64
	dropped atomic.Int64
}

type item struct {
	ev   *watchpb.WatchEvent
	size int64
}

// NewHub returns a hub with no watchers.
func NewHub(opts HubOptions) *Hub {
	if opts.WatcherTraces <= 0 {
		opts.WatcherTraces = DefaultWatcherTraces
	}
	if opts.WatcherBytes <= 0 {
		opts.WatcherBytes = DefaultWatcherBytes
	}
	if opts.MaxWatchers <= 0 {
		opts.MaxWatchers = DefaultMaxWatchers
	}
	if opts.StatsEvery <= 0 {
		opts.StatsEvery = DefaultStatsEvery
	}
	return &Hub{opts: opts, watchers: make(map[*watcher]struct{})}
}

// Watchers returns the number of connected watchers.
func (h *Hub) Watchers() int { return int(h.n.Load()) }

// Publish offers a trace to every watcher; a watcher whose queue is full
// loses it (counted). It implements sink.Tee.
func (h *Hub) Publish(t sources.Trace, size int64) {
	if h.n.Load() == 0 {
		return
	}
	ev := &watchpb.WatchEvent{Event: &watchpb.WatchEvent_Trace{Trace: &watchpb.WatchedTrace{
		Trace:   t.Wrapper,
		TraceId: t.TraceID,
		Source:  t.Source,
		Node:    t.Node,
		Arrival: timestamppb.New(t.Arrival),
		Ordinal: t.Ordinal,
	}}}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for w := range h.watchers {
		if w.bytes.Add(size) > h.opts.WatcherBytes {
			w.bytes.Add(-size)
			w.dropped.Add(1)
			continue
		}
		select {
		case w.queue <- item{ev: ev, size: size}:
		default:
			w.bytes.Add(-size)
			w.dropped.Add(1)
		}
	}
}

// Serve runs the watch service on ln until ctx is cancelled. tlsCfg (may
// be nil) and token protect it like the sink's own listeners.
func (h *Hub) Serve(ctx context.Context, ln net.Listener, tlsCfg *tls.Config, token string) error {
	// Watchers hold one stream for hours; a connection that does not
	// finish its handshake in seconds, or holds no stream, is not one.
	opts := []grpc.ServerOption{
		grpc.ConnectionTimeout(5 * time.Second),
		grpc.MaxConcurrentStreams(16),
		grpc.MaxHeaderListSize(64 << 10),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 30 * time.Second, Time: time.Minute, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	}
	if tlsCfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	opts = append(opts, auth.Token(token).ServerOptions(nil)...)
	gs := grpc.NewServer(opts...)
	watchpb.RegisterTraceWatchServer(gs, &service{h: h})
	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("watch service: %w", err)
	case <-ctx.Done():
	}
	// Watch streams never end on their own; cut them.
	gs.Stop()
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("watch service: %w", err)
	}
	return nil
}

type service struct {
	watchpb.UnimplementedTraceWatchServer
	h *Hub
}

// Watch streams traces and periodic counters to one watcher until it
// goes away.
func (s *service) Watch(_ *watchpb.WatchRequest, stream grpc.ServerStreamingServer[watchpb.WatchEvent]) error {
	h := s.h
	if int(h.n.Add(1)) > h.opts.MaxWatchers {
		h.n.Add(-1)
		return status.Errorf(codes.ResourceExhausted, "this sink already has %d watchers", h.opts.MaxWatchers)
	}
	w := &watcher{queue: make(chan item, h.opts.WatcherTraces)}
	h.mu.Lock()
	h.watchers[w] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.watchers, w)
		h.mu.Unlock()
		h.n.Add(-1)
	}()
	tick := time.NewTicker(h.opts.StatsEvery)
	defer tick.Stop()
	if err := stream.Send(h.stats(w)); err != nil {
		return err
	}
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case it := <-w.queue:
			w.bytes.Add(-it.size)
			if err := stream.Send(it.ev); err != nil {
				return err
			}
		case <-tick.C:
			if err := stream.Send(h.stats(w)); err != nil {
				return err
			}
		}
	}
}

func (h *Hub) stats(w *watcher) *watchpb.WatchEvent {
	st := &watchpb.WatchStats{WatcherDropped: uint64(w.dropped.Load())}
	if h.opts.Counts != nil {
		c := h.opts.Counts()
		st.Received, st.Dropped, st.Malformed = uint64(c.Received), uint64(c.Dropped), uint64(c.Malformed)
	}
	return &watchpb.WatchEvent{Event: &watchpb.WatchEvent_Stats{Stats: st}}
}
