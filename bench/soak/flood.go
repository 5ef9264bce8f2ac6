package soak

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	tapsvc "github.com/envoyproxy/go-control-plane/envoy/service/tap/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
)

// Config says where and how hard to flood.
type Config struct {
	Addr      string        // the sink's gRPC address (host:port)
	Streams   int           // concurrent StreamTaps streams; 0 means 8
	Conns     int           // gRPC connections the streams share; 0 means 2
	PerStream int           // traces per stream before it is closed and a new one opened; 0 means 2000
	Duration  time.Duration // how long to keep sending; 0 means until ctx ends
	Token     string        // bearer token, when the sink wants one
	Templates *Templates    // the traces; nil builds 1024
}

// Result counts what a flood did.
//
// Sent is the number of traces the sink's gRPC server received: traces on
// streams that the client closed and the server then answered with OK.
// The server's StreamTaps handler answers (SendAndClose) only after its
// Recv loop saw the end of the stream, so by then it has taken every
// trace of the stream, and handed each to the sink's queue or counted it
// as dropped. Sent therefore equals the sink's Counts().Received +
// Counts().Dropped for these traces, which is what the soak's identity
// compares with the store.
//
// Unacked counts traces written on streams that then failed (the server
// may have received some of them): a clean run has none, and the
// identity check requires that.
type Result struct {
	Sent      int64         // traces on streams the server acknowledged
	Unacked   int64         // traces on streams that failed
	Bytes     int64         // bytes of acknowledged traces
	Streams   int64         // streams acknowledged
	Failed    int64         // streams that failed
	Errors    []string      // the first few stream errors
	Elapsed   time.Duration // from the first send to the last acknowledgement
	MeanBytes int           // mean marshalled trace size
}

// Rate is acknowledged traces per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Elapsed.Seconds()
}

// Flooder floods a sink; Written can be read while it runs.
type Flooder struct {
	cfg     Config
	written atomic.Int64 // SendMsg calls that returned nil
	seq     atomic.Uint64
}

// New checks cfg and fills in defaults.
func New(cfg Config) (*Flooder, error) {
	if cfg.Addr == "" {
		return nil, errors.New("soak: no address to flood")
	}
	if cfg.Streams <= 0 {
		cfg.Streams = 8
	}
	if cfg.Conns <= 0 {
		cfg.Conns = 2
	}
	if cfg.PerStream <= 0 {
		cfg.PerStream = 2000
	}
	if cfg.Templates == nil {
		p, err := NewTemplates(1024, 1)
		if err != nil {
			return nil, err
		}
		cfg.Templates = p
	}
	return &Flooder{cfg: cfg}, nil
}

// Written is how many traces the client has written so far (SendMsg
// returned): a progress gauge, ahead of what is acknowledged.
func (f *Flooder) Written() int64 { return f.written.Load() }

// Run floods until cfg.Duration passed or ctx ended, then closes every
// stream and waits for the server's answers. An error is returned only
// when nothing could be sent at all; stream failures are in the Result.
func (f *Flooder) Run(ctx context.Context) (Result, error) {
	cfg := f.cfg
	conns := make([]*grpc.ClientConn, cfg.Conns)
	for i := range conns {
		cc, err := grpc.NewClient(cfg.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return Result{}, err
		}
		defer cc.Close()
		conns[i] = cc
	}
	// stop ends sending; the streams are then closed and acknowledged
	// under ctx (a sink that is gone fails them).
	stop := make(chan struct{})
	go func() {
		var timeout <-chan time.Time
		if cfg.Duration > 0 {
			t := time.NewTimer(cfg.Duration)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-timeout:
		case <-ctx.Done():
		}
		close(stop)
	}()
	var (
		mu  sync.Mutex
		res = Result{MeanBytes: cfg.Templates.MeanSize()}
	)
	begin := time.Now()
	var wg sync.WaitGroup
	for g := range cfg.Streams {
		wg.Go(func() {
			cc := conns[g%len(conns)]
			node := fmt.Sprintf("envoy-soak-%d", g)
			k := g * 7919
			for {
				select {
				case <-stop:
					return
				default:
				}
				n, nbytes, err := f.stream(ctx, cc, node, &k, stop)
				mu.Lock()
				if err != nil {
					res.Unacked += n
					res.Failed++
					if len(res.Errors) < 5 {
						res.Errors = append(res.Errors, err.Error())
					}
				} else {
					res.Sent += n
					res.Bytes += nbytes
					res.Streams++
				}
				mu.Unlock()
				if err != nil {
					// A failing sink (gone, refusing): back off a little
					// rather than spin.
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(begin)
	if res.Sent == 0 && res.Failed > 0 {
		return res, fmt.Errorf("soak: no stream acknowledged: %s", res.Errors[0])
	}
	return res, nil
}

// stream sends up to PerStream traces on one new stream, closes it and
// waits for the answer; it returns how many traces (and bytes) it wrote.
func (f *Flooder) stream(ctx context.Context, cc *grpc.ClientConn, node string, k *int, stop <-chan struct{}) (int64, int64, error) {
	sctx := ctx
	if f.cfg.Token != "" {
		sctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+f.cfg.Token)
	}
	st, err := cc.NewStream(sctx, &grpc.StreamDesc{ClientStreams: true}, tapsvc.TapSinkService_StreamTaps_FullMethodName, grpc.ForceCodecV2(rawCodec{}))
	if err != nil {
		return 0, 0, err
	}
	// The identifier goes in the first message only, as Envoy's contract
	// says; it carries no trace.
	if err := st.SendMsg(Identifier(node)); err != nil {
		return 0, 0, finish(st, err)
	}
	var n, nbytes int64
	for n < int64(f.cfg.PerStream) {
		select {
		case <-stop:
			return n, nbytes, finish(st, nil)
		default:
		}
		b := f.cfg.Templates.Trace(*k, f.seq.Add(1), time.Now())
		*k++
		if err := st.SendMsg(b); err != nil {
			return n, nbytes, finish(st, err)
		}
		n++
		nbytes += int64(len(b))
		f.written.Add(1)
	}
	return n, nbytes, finish(st, nil)
}

// finish closes the sending side and reads the server's answer; a send
// error (io.EOF when the server ended the stream) is replaced by the
// status RecvMsg reports.
func finish(st grpc.ClientStream, sendErr error) error {
	if sendErr == nil {
		if err := st.CloseSend(); err != nil {
			return err
		}
	}
	var out []byte
	err := st.RecvMsg(&out)
	if err == nil && sendErr != nil {
		err = sendErr
	}
	return err
}

// rawCodec sends pre-marshalled StreamTapsRequests as they are. It names
// itself "proto", so the server decodes them with the ordinary codec.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*[]byte)) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

var _ encoding.CodecV2 = rawCodec{}
