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
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/reassembly"

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
	// bytes are skipped as a gap.
	MaxPagesPerConn int
	MaxPagesTotal   int
	// DetectWindow, HoldLimit and DatagramTries bound detection; see the
	// Default* constants.
	DetectWindow  int
	HoldLimit     int
	DatagramTries int
	// Defrag bounds IP fragment reassembly.
	Defrag link.DefragConfig
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
	Exchanges         int64 // exchange IDs allocated
	PublishAfterFinal int64 // publications refused after a final one
	ParserPanics      int64 // parser panics turned into flow notes

	Defrag link.DefragStats
}

// lane is the per-source part of the decoder: packets of different
// sources never share a connection (their ordinals would mix), so each
// source gets its own gopacket pool and assembler.
type lane struct {
	name   string
	pool   *reassembly.StreamPool
	asm    *reassembly.Assembler
	closed map[connKey]*conn
	udp    map[connKey]*conn
}

// connKey identifies a connection regardless of direction.
type connKey struct{ a, b netip.AddrPort }

func makeKey(x, y netip.AddrPort) connKey {
	if x.Compare(y) <= 0 {
		return connKey{x, y}
	}
	return connKey{y, x}
}

type lingerEntry struct {
	c     *conn
	until time.Time
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

	frame    link.Frame
	defrag   *link.Defragmenter
	tcpLayer layers.TCP
	ctx      ctxSlab
	scratch  []byte
	cur      packetCtx

	clock     time.Time
	lastMaint time.Time
	closing   decode.FlowState
	deferring bool
	flushed   []*conn

	nextFlowID     uint64
	nextExchangeID uint64

	dirty   []*conn
	resets  []*conn
	lingerQ []lingerEntry

	udpHead, udpTail *conn
	streams          map[*Stream]struct{}
	finished         bool

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

// Clock returns the decoder's capture clock: the latest capture time seen.
func (d *Decoder) Clock() time.Time { return d.clock }

func (d *Decoder) lane(name string) *lane {
	if d.lastLane != nil && d.lastLane.name == name {
		return d.lastLane
	}
	ln := d.byName[name]
	if ln == nil {
		ln = &lane{name: name, closed: make(map[connKey]*conn), udp: make(map[connKey]*conn)}
		ln.pool = reassembly.NewStreamPool(&factory{d: d, lane: ln})
		ln.asm = reassembly.NewAssembler(ln.pool)
		ln.asm.MaxBufferedPagesPerConnection = d.cfg.MaxPagesPerConn
		ln.asm.MaxBufferedPagesTotal = d.cfg.MaxPagesTotal
		d.byName[name] = ln
		d.lanes = append(d.lanes, ln)
	}
	d.lastLane = ln
	return ln
}

// advance moves the capture clock forward (never back: a damaged
// timestamp must not reopen time) and runs maintenance when due.
func (d *Decoder) advance(ts time.Time) {
	if ts.After(d.clock) {
		d.clock = ts
	}
	if d.lastMaint.IsZero() {
		d.lastMaint = d.clock
		return
	}
	if d.clock.Sub(d.lastMaint) >= d.cfg.MaintainEvery {
		d.maintain()
	}
}

// Packet decodes one captured packet. The packet's Data may be kept by
// parsers (sources never reuse it).
func (d *Decoder) Packet(p *sources.Packet) {
	if d.finished {
		return
	}
	d.stats.Packets++
	d.advance(p.Timestamp)
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
		if err := link.ParseIP(dg, f); err != nil || f.Fragment {
			d.stats.Malformed++
			return
		}
		d.stats.Reassembled++
		ip = dg
	}
	ln := d.lane(p.Source)
	switch f.Proto {
	case link.ProtoTCP:
		d.tcpPacket(ln, p, f, ip)
	case link.ProtoUDP:
		d.udpPacket(ln, p, f)
	default:
		d.stats.OtherIP++
	}
}

// Tick advances the capture clock without a packet, so live captures
// time out idle flows and republish counters while traffic is quiet.
func (d *Decoder) Tick(now time.Time) {
	if d.finished {
		return
	}
	d.advance(now)
}

// maintain flushes stale out-of-order data, ends idle flows, forgets
// lingering connections and republishes flows whose counters changed.
func (d *Decoder) maintain() {
	d.lastMaint = d.clock
	d.deferring = true
	d.closing = decode.FlowTimedOut
	opt := reassembly.FlushOptions{T: d.clock.Add(-d.cfg.GapTimeout), TC: d.clock.Add(-d.cfg.IdleTimeout)}
	for _, ln := range d.lanes {
		ln.asm.FlushWithOptions(opt)
	}
	d.closing = ""
	d.deferring = false
	d.replayDeferred()
	d.expireUDP(d.clock.Add(-d.cfg.UDPTimeout), decode.FlowTimedOut)
	d.expireLinger(false)
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

// linger keeps an ended TCP connection findable by its addresses for a
// while, so its last packets are counted to it.
func (d *Decoder) linger(c *conn) {
	if c.lane == nil || c.key == (connKey{}) {
		return
	}
	c.lane.closed[c.key] = c
	d.lingerQ = append(d.lingerQ, lingerEntry{c: c, until: d.clock.Add(d.cfg.Linger)})
}

func (d *Decoder) expireLinger(all bool) {
	n := 0
	for _, e := range d.lingerQ {
		if !all && !e.until.Before(d.clock) {
			break
		}
		if e.c.lane.closed[e.c.key] == e.c {
			delete(e.c.lane.closed, e.c.key)
		}
		n++
	}
	clear(d.lingerQ[:n])
	d.lingerQ = d.lingerQ[n:]
}

// Finish ends the input: out-of-order data is flushed (missing bytes
// become gaps), and every TCP connection, UDP conversation and open
// stream ends, in flow order. Connections still open end in their current
// state (open, or partial when joined mid-stream). ts may be zero; the
// decoder's own clock is used when it is later.
func (d *Decoder) Finish(ts time.Time) {
	if d.finished {
		return
	}
	if ts.After(d.clock) {
		d.clock = ts
	}
	d.deferring = true
	for _, ln := range d.lanes {
		ln.asm.FlushAll()
	}
	d.deferring = false
	d.replayDeferred()
	d.expireUDP(time.Time{}, "")
	d.endStreams()
	d.expireLinger(true)
	d.publishDirty()
	d.finished = true
}
