package main

import (
	"context"
	"sync"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/dns"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/http2"
	"github.com/tapview/tapview/decode/kafka"
	"github.com/tapview/tapview/decode/lanes"
	"github.com/tapview/tapview/decode/mesh"
	"github.com/tapview/tapview/decode/mysql"
	"github.com/tapview/tapview/decode/pipeline"
	"github.com/tapview/tapview/decode/postgres"
	"github.com/tapview/tapview/decode/redis"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/decode/tls"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/decode/ws"
	"github.com/tapview/tapview/sources"
)

// streamParsers lists the TCP protocols offered every connection, in the
// order they are asked; detection is by content, never by port. TLS hands
// decrypted bytes to its own HTTP/1, HTTP/2 and PostgreSQL parsers (a
// PostgreSQL connection switches to TLS after SSLRequest); WebSocket is only
// reached through an HTTP/1 upgrade.
//
// HTTP/1 takes decoded body sizes of gzip bodies from the gzip trailer
// instead of inflating every body: exact for valid gzip and several times
// cheaper on big captures; views still inflate (and show errors) on demand.
func streamParsers(keys *keylog.KeyLog) []decode.Parser {
	h1 := http1.NewWithOptions(http1.Options{GzipTrailerSizes: true})
	return []decode.Parser{
		h1,
		http2.New(),
		tls.New(keys, h1, http2.New(), postgres.New()),
		mysql.New(),
		redis.New(),
		kafka.New(),
		postgres.New(),
		dns.New(),
		ws.New(),
	}
}

// datagramParsers lists the UDP protocols.
func datagramParsers() []decode.DatagramParser {
	return []decode.DatagramParser{dns.New()}
}

// decodeOptions are what differs between runs of the same decoders.
type decodeOptions struct {
	// owner maps a source to its Kubernetes pod and namespace.
	owner func(source string) (pod, namespace string)
	// noOrdinals skips the per-packet lists flows keep for packet export:
	// headless printing never exports, and on big captures the lists were
	// most of the live heap.
	noOrdinals bool
	// maxFlows caps the flows the decoder tracks at once (--memory's
	// share; 0 is tcp's default).
	maxFlows int
	// lanes is the number of decoder lanes (-j; 0: one per core).
	lanes int
}

// newDecoders returns the decoder of packets and tap traces: lanes of TCP
// decoders (one per core unless o.lanes says otherwise) merged into out,
// with the same output whatever their number.
func newDecoders(out decode.Output, keys *keylog.KeyLog, o decodeOptions) *lanes.Decoder {
	return lanes.New(out, lanes.Options{
		Lanes: o.lanes,
		Config: func() tcp.Config {
			return tcp.Config{Parsers: streamParsers(keys), Datagrams: datagramParsers(), Owner: o.owner, SkipOrdinals: o.noOrdinals, MaxFlows: o.maxFlows}
		},
		Secrets: keys,
		// Kafka topic ids are named in publication order, so the names
		// do not depend on which lane decoded the Metadata response.
		Publish: kafka.NewNamer().Name,
	})
}

// packetStage is what a mesh Labeler offers the decoder: a stage in front
// of it that joins connections iptables redirected (replies carry the
// original destination) and keeps the packet timing links need.
type packetStage interface {
	Wire(next mesh.PacketDecoder) *mesh.Wire
}

// wired passes packets through a mesh Wire on their way to the lanes.
type wired struct {
	*lanes.Decoder
	wire *mesh.Wire
}

func (w wired) Packet(p *sources.Packet) { w.wire.Packet(p) }

// runPipeline decodes the inputs into out until they end or ctx is done.
func runPipeline(ctx context.Context, inputs []input, keys *keylog.KeyLog, out decode.Output, stats pipeline.StatsSink) error {
	return runPipelineWith(ctx, inputs, keys, out, stats, decodeOptions{})
}

// runPipelineWith is runPipeline with decoder options.
func runPipelineWith(ctx context.Context, inputs []input, keys *keylog.KeyLog, out decode.Output, stats pipeline.StatsSink, o decodeOptions) error {
	o.owner = podOwnerFrom(ctx)
	dec := newDecoders(out, keys, o)
	ins := make([]pipeline.Input, len(inputs))
	for i, in := range inputs {
		ins[i] = pipeline.Input{Source: in.src, Live: in.live}
	}
	// The decoder orders notes, traces and embedded keys with the packets.
	opts := pipeline.Options{Notes: dec, Traces: dec, Secrets: dec}
	if stats != nil {
		opts.Stats = stats
	}
	var pd pipeline.PacketDecoder = dec
	if m, ok := out.(packetStage); ok {
		pd = wired{dec, m.Wire(dec)}
	}
	return sourceErrors(pipeline.Run(ctx, ins, pd, opts))
}

// statsSink keeps the latest per-source statistics and prints them every
// interval while the sources run, then once more at the end: the
// {"type":"stats"} lines of live headless runs.
//
// The pipeline reports statistics only when they changed, so printing is
// driven by its own ticker rather than by SetStats: a quiet sink still
// says it is alive, and the pipeline's final report cannot add a second
// "final" line.
type statsSink struct {
	w      statsWriter
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	order  []string
	byName map[string]decode.SourceStats
}

// newStatsSink starts printing to w every interval; call final once the
// pipeline returned.
func newStatsSink(w statsWriter, every time.Duration) *statsSink {
	s := &statsSink{w: w, stop: make(chan struct{}), done: make(chan struct{}), byName: make(map[string]decode.SourceStats)}
	go s.loop(every)
	return s
}

func (s *statsSink) SetStats(st decode.SourceStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byName[st.Name]; !ok {
		s.order = append(s.order, st.Name)
	}
	s.byName[st.Name] = st
}

func (s *statsSink) loop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.print(now)
		}
	}
}

func (s *statsSink) print(now time.Time) {
	s.mu.Lock()
	sts := make([]decode.SourceStats, 0, len(s.order))
	for _, n := range s.order {
		sts = append(sts, s.byName[n])
	}
	s.mu.Unlock()
	if len(sts) > 0 {
		s.w.Stats(now, sts)
	}
}

// final stops the periodic lines and prints the last one. Both the end
// of the run and a forced exit (shutdown.go) call it; only the first
// prints.
func (s *statsSink) final() {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.print(time.Now())
	})
}
