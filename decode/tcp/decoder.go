// Package tcp is the transport core of the decoder: it turns parsed frames
// into TCP connections (reassembled with gopacket's reassembly package)
// and UDP conversations, detects each flow's protocol from its first
// bytes, and drives the configured decode.Parser handlers through the
// decode.Conn it implements. Socket taps without packets enter through
// OpenStream and take the same detection and parser path.
//
// A Decoder is owned by one goroutine. All timeouts run on capture time,
// so replaying a file is deterministic.
package tcp

import (
	"errors"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/sources"
)

// Defaults for Config fields left zero.
const (
	DefaultIdleTimeout     = 2 * time.Minute
	DefaultUDPTimeout      = 60 * time.Second
	DefaultGapTimeout      = 10 * time.Second
	DefaultLinger          = 30 * time.Second
	DefaultMaintainEvery   = time.Second
	DefaultMaxPagesPerConn = 1024  // ~1.9 MB of out-of-order data per connection
	DefaultMaxPagesTotal   = 16384 // ~31 MB over all connections
)

// Config says which parsers the decoder offers flows to and how much it
// may buffer. Zero values take the defaults above.
type Config struct {
	// Parsers are the stream protocols, asked in order; the first Yes
	// wins.
	Parsers []decode.Parser
	// Datagrams are the UDP protocols, asked in order.
	Datagrams []decode.DatagramParser
	// Limits are handed to parsers through decode.Conn.
	Limits decode.Limits

	// IdleTimeout closes TCP connections without packets for this long
	// (capture time).
	IdleTimeout time.Duration
	// UDPTimeout ends UDP conversations idle for this long.
	UDPTimeout time.Duration
	// GapTimeout is how long out-of-order data waits for the bytes
	// before it; then the missing bytes are reported as a gap.
	GapTimeout time.Duration
	// Linger is how long an ended TCP connection absorbs its stray last
	// packets (the final ACK) instead of starting a new flow.
	Linger time.Duration
	// MaintainEvery is how often (capture time) idle flows are ended and
	// changed flows republished.
	MaintainEvery time.Duration
	// MaxPagesPerConn and MaxPagesTotal cap gopacket's out-of-order
	// buffers (pages of 1900 bytes); past the cap the oldest missing
	// bytes are skipped as a gap. The total applies per source (each
	// source has its own assembler).
	MaxPagesPerConn int
	MaxPagesTotal   int
	// DetectWindow, HoldLimit and DatagramTries bound detection; see the
	// Default* constants.
	DetectWindow  int
	HoldLimit     int
	DatagramTries int
	// Defrag bounds IP fragment reassembly.
	Defrag link.DefragConfig
	// Owner, when set, names the Kubernetes pod and namespace a source's
	// traffic was captured in (sources that capture one pod each, such
	// as `tapview attach`); it is asked once per new flow, and the flow's
	// exchanges inherit the answer, so filters can use pod and namespace.
	// Empty strings mean unknown.
	Owner func(source string) (pod, namespace string)
	// MaxFlows caps the TCP connections and UDP conversations tracked at
	// once (DefaultMaxFlows when 0). Past it the least recently active
	// are closed as timed out and counted (Stats.Evicted, and a note per
	// source at most every 10 s of capture time), so a scan or SYN flood
	// cannot exhaust memory. FlowCost says what each costs, to derive
	// the cap from a memory budget. Socket streams (OpenStream) are not
	// counted: their source closes them.
	MaxFlows int
	// CapEvery is how many items pass between two checks of MaxFlows
	// in shards (NewShards), DefaultCapEvery when 0.
	CapEvery int
	// IDs, when set, allocates flow and exchange IDs instead of the
	// decoder's own counters, for a decoder sharing one ID space with
	// others (decode/lanes' decoder of socket streams).
	IDs IDSource
	// SkipOrdinals leaves Flow.Ordinals empty. Ordinals exist for per-flow
	// packet export (8 bytes per packet, and more while the slice grows,
	// held for as long as a connection lives or lingers); outputs that
	// never export packets (headless JSON Lines and table output) set it
	// so a long keep-alive connection or a busy capture does not grow
	// memory with every packet.
	SkipOrdinals bool
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.UDPTimeout, DefaultUDPTimeout)
	def(&c.GapTimeout, DefaultGapTimeout)
	def(&c.Linger, DefaultLinger)
	def(&c.MaintainEvery, DefaultMaintainEvery)
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt(&c.MaxPagesPerConn, DefaultMaxPagesPerConn)
	defInt(&c.MaxPagesTotal, DefaultMaxPagesTotal)
	defInt(&c.DetectWindow, DefaultDetectWindow)
	defInt(&c.HoldLimit, DefaultHoldLimit)
	defInt(&c.DatagramTries, DefaultDatagramTries)
	defInt(&c.MaxFlows, DefaultMaxFlows)
	defInt(&c.CapEvery, DefaultCapEvery)
	c.Limits = c.Limits.WithDefaults()
	return c
}

// Stats counts what the decoder saw, for the status bar and tests.
type Stats struct {
	Packets     int64 // packets given to Packet
	NotIP       int64 // well-formed frames that carry no IP (ARP, LLDP, ...)
	Unsupported int64 // frames of a link type the decoder cannot parse
	Malformed   int64 // frames whose headers are cut or inconsistent
	OtherIP     int64 // IP packets that are neither TCP nor UDP
	Fragments   int64 // IP fragments seen
	Reassembled int64 // datagrams rebuilt from fragments

	TCPPackets int64
	UDPPackets int64
	TCPFlows   int64 // TCP connections created
	UDPFlows   int64 // UDP conversations created
	Streams    int64 // socket streams opened with OpenStream

	Truncated  int64 // snaplen-cut segments
	OutOfOrder int64 // segments that arrived ahead of missing bytes
	Gaps       int64 // gaps reported to handlers
	GapBytes   int64 // bytes of gaps of known size

	Detected          int64 // flows given to a parser
	Raw               int64 // flows no parser accepted
	Exchanges         int64 // exchange IDs allocated (NewExchange and NextExchangeID)
	PublishAfterFinal int64 // publications refused after a final one
	ParserPanics      int64 // parser panics turned into flow notes
	Evicted           int64 // flows closed early to stay within Config.MaxFlows

	Defrag link.DefragStats
}

// Decoder turns packets and socket streams into flows and exchanges,
// published to its Output. Use it from one goroutine only.
type Decoder struct {
	cfg    Config
	out    decode.Output
	limits decode.Limits

	detectWindow, holdLimit, datagramTries int

	lanes    []*lane
	byName   map[string]*lane
	lastLane *lane

	frame     link.Frame
	defrag    *link.Defragmenter
	tcpLayer  layers.TCP
	tcpHeader [20]byte
	ctx       ctxSlab
	scratch   []byte
	cur       packetCtx

	lastTick  time.Time
	closing   decode.FlowState
	deferring bool
	flushed   []flushedConn
	// deferredData holds the data and gaps of flushed connections until
	// the replay, flushClosing the state a flush's completions end in
	// (see deferred).
	deferredData map[*conn][]deferred
	flushClosing decode.FlowState

	nextFlowID     uint64
	nextExchangeID uint64

	dirty  []*conn
	resets []*conn
	free   []*conn // evicted conns kept for reuse (see recycle)
	// noRecycle turns recycling off and reused counts reuses, for tests.
	noRecycle bool
	reused    int

	open     int  // listed flows over all lanes (what MaxFlows caps)
	evicting bool // a flush is closing flows for the cap
	// alwaysFlush runs gopacket's flush at every maintenance, as before
	// needsFlush; tests compare both.
	alwaysFlush bool

	streams  map[*Stream]struct{}
	finished bool

	// shard is set when the decoder is one shard of several (NewShards);
	// bucket is then the hash bucket of the packet being decoded.
	shard  *shardState
	bucket uint8

	stats Stats
}

// NewDecoder returns a decoder publishing to out.
func NewDecoder(out decode.Output, cfg Config) *Decoder {
	cfg = cfg.withDefaults()
	return &Decoder{
		cfg:           cfg,
		out:           out,
		limits:        cfg.Limits,
		detectWindow:  cfg.DetectWindow,
		holdLimit:     cfg.HoldLimit,
		datagramTries: cfg.DatagramTries,
		byName:        make(map[string]*lane),
		defrag:        link.NewDefragmenter(cfg.Defrag),
		streams:       make(map[*Stream]struct{}),
	}
}

// Stats returns the counters so far.
func (d *Decoder) Stats() Stats {
	s := d.stats
	s.Defrag = d.defrag.Stats()
	return s
}

// Clock returns the capture clock of a source: the latest capture time
// seen from it (zero for an unknown source).
func (d *Decoder) Clock(source string) time.Time {
	if ln := d.byName[source]; ln != nil {
		return ln.clock
	}
	return time.Time{}
}

// Packet decodes one captured packet. The packet's Data may be kept by
// parsers (sources never reuse it).
func (d *Decoder) Packet(p *sources.Packet) {
	if d.finished {
		return
	}
	d.stats.Packets++
	ln := d.lane(p.Source)
	ln.advance(p.Timestamp)
	ln.packets++
	f := &d.frame
	if err := link.Parse(p.LinkType, p.Data, f); err != nil {
		switch {
		case errors.Is(err, link.ErrNotIP):
			d.stats.NotIP++
		case errors.Is(err, link.ErrUnsupportedLink):
			d.stats.Unsupported++
		default:
			d.stats.Malformed++
		}
		return
	}
	ip := p.Data
	if f.Fragment {
		d.stats.Fragments++
		dg, err := d.defrag.Add(f, p.Timestamp)
		if err != nil || dg == nil {
			return
		}
		tun := f.Tunnel // a fragment inside a tunnel: the datagram is the inner one
		if err := link.ParseIP(dg, f); err != nil || f.Fragment {
			d.stats.Malformed++
			return
		}
		if f.Tunnel.Kind == link.TunnelNone {
			f.Tunnel = tun
		}
		d.stats.Reassembled++
		ip = dg
	}
	switch f.Proto {
	case link.ProtoTCP, link.ProtoUDP:
		if !d.owns(f) {
			return
		}
		if d.shard != nil {
			d.shard.phase = PhasePacket
		}
		if f.Proto == link.ProtoTCP {
			d.tcpPacket(ln, p, f, ip)
		} else {
			d.udpPacket(ln, p, f)
		}
	default:
		d.stats.OtherIP++
	}
}

// Tick tells the decoder that wall time now has come, for live captures:
// sources that sent no packet since the last Tick have their capture
// clock moved on by the wall time elapsed, so their idle flows time out
// and counters are republished while traffic is quiet. Replays without
// Tick stay deterministic.
func (d *Decoder) Tick(now time.Time) {
	if d.finished {
		return
	}
	if !d.lastTick.IsZero() && now.After(d.lastTick) {
		elapsed := now.Sub(d.lastTick)
		for _, ln := range d.lanes {
			if ln.packets == 0 && !ln.clock.IsZero() {
				ln.advance(ln.clock.Add(elapsed))
			}
		}
	}
	for _, ln := range d.lanes {
		ln.packets = 0
	}
	d.lastTick = now
	d.publishDirty()
}

func (d *Decoder) publishDirty() {
	for _, c := range d.dirty {
		if c.dirty {
			c.publishFlow()
		}
	}
	clear(d.dirty)
	d.dirty = d.dirty[:0]
}

// Finish ends the input: out-of-order data is flushed (missing bytes
// become gaps), and every TCP connection, UDP conversation and open
// stream ends. Connections still open end in their current state (open,
// or partial when joined mid-stream), at their source's latest capture
// time; ts stands in for sources that never had one.
func (d *Decoder) Finish(ts time.Time) {
	if d.finished {
		return
	}
	for _, ln := range d.lanes {
		if ln.clock.IsZero() {
			ln.clock = ts
		}
	}
	d.deferring = true
	for _, ln := range d.lanes {
		ln.asm.FlushAll()
	}
	d.deferring = false
	d.replayDeferred()
	for _, ln := range d.lanes {
		ln.expireUDP(time.Time{}, "")
	}
	d.endStreams()
	for _, ln := range d.lanes {
		ln.expireLinger(true)
		ln.noteEvictions(true)
	}
	d.publishDirty()
	d.finished = true
}
