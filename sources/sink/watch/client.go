package watch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	watchpb "github.com/tapview/tapview/proto/watch"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/sink/auth"
)

// DefaultMaxMessageBytes bounds one received event (a trace).
const DefaultMaxMessageBytes = 32 << 20

// ClientConfig says which sink to watch and how.
type ClientConfig struct {
	// Addr is the sink's --serve address (host:port).
	Addr string
	// TLS, when set, is used for the connection; nil means plaintext.
	TLS *tls.Config
	// Token is sent as "Authorization: Bearer <token>" when set.
	Token string
	// Name is the source name ("sink <Addr>" when empty).
	Name string
	// MaxMessageBytes bounds one event.
	MaxMessageBytes int
}

// Client is a live Source of the traces a remote sink receives. It
// implements sources.Counter with the remote sink's counters plus what
// was dropped for this watcher.
type Client struct {
	cfg           ClientConfig
	received      atomic.Int64
	remoteDropped atomic.Int64
	remoteBad     atomic.Int64
	// watcherDropped is this stream's per-watcher drops; watcherBase
	// keeps those of earlier streams (counters restart on reconnect).
	watcherDropped atomic.Int64
	watcherBase    atomic.Int64
}

// NewClient checks the configuration; connecting happens in Run.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Addr == "" {
		return nil, errors.New("watch: no sink address")
	}
	if cfg.Name == "" {
		cfg.Name = "sink " + cfg.Addr
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	return &Client{cfg: cfg}, nil
}

// Name is the source name.
func (c *Client) Name() string { return c.cfg.Name }

// Counts returns traces received here, and drops and rejections on the
// remote side (the sink's own, and this watcher's queue).
func (c *Client) Counts() sources.Counts {
	return sources.Counts{
		Received:  c.received.Load(),
		Dropped:   c.remoteDropped.Load() + c.watcherBase.Load() + c.watcherDropped.Load(),
		Malformed: c.remoteBad.Load(),
	}
}

// Run watches until ctx is cancelled. A sink that cannot be reached at
// first, or that refuses the credentials, is an error; a stream that
// breaks after working is reconnected with backoff (the sink pod may be
// restarting), with a status note each time.
func (c *Client) Run(ctx context.Context, emit sources.Emitter) error {
	te, ok := emit.(sources.TraceEmitter)
	if !ok {
		return errors.New("watch: the pipeline's emitter does not accept traces")
	}
	creds := insecure.NewCredentials()
	if c.cfg.TLS != nil {
		creds = credentials.NewTLS(c.cfg.TLS)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(c.cfg.MaxMessageBytes)),
	}
	if c.cfg.Token != "" {
		opts = append(opts, auth.Token(c.cfg.Token).Credentials(c.cfg.TLS == nil))
	}
	cc, err := grpc.NewClient(c.cfg.Addr, opts...)
	if err != nil {
		return fmt.Errorf("watch %s: %w", c.cfg.Addr, err)
	}
	defer cc.Close()
	client := watchpb.NewTraceWatchClient(cc)

	backoff := time.Second
	connected := false
	for {
		got, err := c.watch(ctx, client, te, emit)
		if ctx.Err() != nil {
			return nil
		}
		connected = connected || got
		if !connected || permanent(err) {
			return fmt.Errorf("watch %s: %w", c.cfg.Addr, err)
		}
		if got {
			backoff = time.Second
		}
		emit.Status(sources.Status{Time: time.Now(), Source: c.cfg.Name, Level: sources.Warning, Kind: "reconnecting",
			Message: fmt.Sprintf("watch stream ended (%v); reconnecting in %s", err, backoff)})
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// permanent reports errors retrying cannot fix: credentials and
// contract mismatches.
func permanent(err error) bool {
	switch status.Code(err) {
	case codes.Unauthenticated, codes.PermissionDenied, codes.Unimplemented, codes.InvalidArgument:
		return true
	}
	return false
}

// watch runs one stream; it reports whether any event arrived.
func (c *Client) watch(ctx context.Context, client watchpb.TraceWatchClient, te sources.TraceEmitter, emit sources.Emitter) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Watch(ctx, &watchpb.WatchRequest{Client: "tapview"})
	if err != nil {
		return false, err
	}
	c.watcherBase.Add(c.watcherDropped.Swap(0))
	got, haveLast := false, false
	var last sources.Counts
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			return got, errors.New("the sink closed the stream")
		}
		if err != nil {
			return got, err
		}
		if !got {
			got = true
			emit.Status(sources.Status{Time: time.Now(), Source: c.cfg.Name, Level: sources.Info, Kind: "connected",
				Message: "watching the sink at " + c.cfg.Addr})
		}
		switch e := ev.GetEvent().(type) {
		case *watchpb.WatchEvent_Trace:
			wt := e.Trace
			if wt.GetTrace().GetTrace() == nil {
				continue
			}
			n := c.received.Add(1)
			arrival := time.Now()
			if wt.GetArrival().IsValid() {
				arrival = wt.GetArrival().AsTime()
			}
			te.Trace(sources.Trace{Wrapper: wt.GetTrace(), TraceID: wt.GetTraceId(), Source: c.cfg.Name,
				Node: wt.GetNode(), Arrival: arrival, Ordinal: uint64(n)})
		case *watchpb.WatchEvent_Stats:
			st := e.Stats
			c.remoteDropped.Store(int64(st.GetDropped()))
			c.remoteBad.Store(int64(st.GetMalformed()))
			c.watcherDropped.Store(int64(st.GetWatcherDropped()))
			now := c.Counts()
			if haveLast && now.Dropped > last.Dropped {
				emit.Status(sources.Status{Time: time.Now(), Source: c.cfg.Name, Level: sources.Warning, Kind: "dropped",
					Message: fmt.Sprintf("the remote sink dropped %d traces (%d by its queue, %d for this watcher)",
						now.Dropped-last.Dropped, st.GetDropped(), st.GetWatcherDropped())})
			}
			last, haveLast = now, true
		}
	}
}
