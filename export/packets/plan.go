// Package packets writes the packets behind decoded traffic as pcap or
// pcapng: the packets of the flows a filter selected (every packet of
// those connections, handshake and teardown included, in capture order),
// with secrets overwritten in place when masking is on, a comment on the
// first packet of each exchange, and synthesized TCP connections for
// exchanges that came without packets.
//
// An export is two passes so that a capture of any size is never held in
// memory. Pass one decodes the inputs into a Collector, which records in a
// Plan, per flow, only the packet ordinals, a one-line summary per
// exchange and the secret values the masker found. Pass two (Write)
// re-reads the captures packet by packet (or a spool of what could not be
// re-read) and writes the packets the Plan selects.
//
// Masking packets keeps every length: secrets are overwritten inside the
// payload and the TCP/UDP checksum is recomputed (one that was already
// wrong, from checksum offloading, is left as it was), so Wireshark
// shows valid packets with masked values.
//
// What to overwrite is found on what the protocols deliver, not packet
// by packet: Plan.Tap wraps each input of pass one so that its TCP
// streams are put back together and walked layer by layer by
// export/streammask (HTTP/1 heads and bodies with chunked framing
// removed, HTTP/2 frames and HPACK, gRPC messages, WebSocket frames
// unmasked, compressed bodies and messages decompressed). The changes
// come back as patches at stream offsets, and pass two applies them to
// every packet that carries those bytes, however far apart the packets
// are: a value split across segments, chunks, CONTINUATION or DATA
// frames or WebSocket fragments is masked in each part. Units that
// cannot be rewritten in place (a compressed body, gRPC or WebSocket
// message that held a secret, an HPACK block that does not decode) are
// overwritten whole with filler of the same length, and the comment of
// their first packet says so.
//
// Two older mechanisms remain for what the stream walk does not cover
// (payload bytes it did not walk, such as a late retransmission of a
// segment it had given up on, and exports without a pass one over the
// packets, such as the UI's):
// each payload is scanned by the raw masker, and the secret values the
// decoder found in the flow's exchanges (header values, their HPACK
// Huffman codes, and when the streams are not followed, body values and
// whole content-encoded bodies) are overwritten wherever they occur,
// also across segments still in a small look-ahead window.
//
// Not covered: TLS payloads (the ciphertext is left alone, and a masked
// export includes no keys, so it stays unreadable; --include-keys makes
// what they decrypt readable unmasked), and IP fragments of a datagram
// other than the one that completed it (their payload is scanned, but
// their checksum cannot be fixed).
package packets

import (
	"fmt"
	"net/netip"
	"os"
	"sync"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/export/streammask"
	"github.com/tapview/tapview/internal/cleanmemo"
)

// Bounds on what a Plan keeps per flow, so a hostile capture with a
// secret in every request cannot grow memory without limit. Past them
// the per-packet scan is all that masks.
const (
	maxSecretsPerFlow = 256
	maxWipePerFlow    = 1 << 16 // body pieces (16 bytes each): 1 MiB
	// minSecretLen keeps short values ("1", "abc") from being searched
	// for everywhere in a flow, where they would also hit protocol bytes.
	minSecretLen = 6
)

// Plan is what pass one learnt and pass two needs: which flows to write,
// their packet ordinals, exchange comments and secret values. It is built
// by one goroutine (the Collector, or a caller with a snapshot) and then
// read by Write.
type Plan struct {
	all    bool
	masker *mask.Masker
	flows  map[uint64]*flowPlan
	stats  PlanStats

	// streams are the stream patches of each source, added by the
	// Tapped sources of pass one (from their goroutines, hence the lock).
	smu     sync.Mutex
	follow  bool // pass one follows the streams (Plan.Tap)
	streams map[string]*streammask.Result
	// written is pass two's copy of streams, taken when it starts.
	written map[string]*streammask.Result

	// comments keeps the exchange comments of every flow
	// (commentlog.go).
	comments commentLog

	// clean holds values the masker leaves alone (cleanmemo.go), and
	// line is a buffer for the keys looked up in it.
	clean cleanmemo.Memo
	line  []byte
}

// PlanStats counts what a Plan holds, for the section comment and the
// command's summary.
type PlanStats struct {
	Flows         int // flows known
	Selected      int // flows selected (all flows when the Plan is unfiltered)
	Exchanges     int // exchanges recorded
	Secrets       int // exchanges in which the masker found a secret
	WipedBodies   int // content-encoded bodies that will be overwritten whole
	SecretsCapped int // flows whose secret list hit its bound
	// Streams counts the TCP connections whose streams were followed
	// in pass one, StreamPatches the changes found in them, and
	// StreamWiped the units (compressed bodies and messages, header
	// blocks) that will be overwritten whole.
	Streams       int
	StreamPatches int
	StreamWiped   int
}

// flowPlan is one flow's part of the plan.
type flowPlan struct {
	id       uint64
	source   string
	client   netip.AddrPort
	tls      bool
	ordinals []uint64
	selected bool

	secrets []secret
	wipe    map[piece]struct{}
	capped  bool

	comments [2]commentList // by direction: requests, then response-only exchanges
	last     [2]*held       // newest packet with payload per direction (pass two)
}

// secret is a byte string to overwrite wherever it occurs in one
// direction of the flow, with the byte to write: '*' for plain text,
// 0xf9 for HPACK Huffman code (the code of '*', so the value decodes as
// asterisks).
type secret struct {
	b    []byte
	fill byte
	dir  uint8 // 0: client to server
}

// NewPlan returns an empty plan. With all set, Write writes every packet
// of the inputs (non-IP frames too) and selection is ignored; otherwise
// only the packets of selected flows. m masks; nil exports unmasked.
func NewPlan(all bool, m *mask.Masker) *Plan {
	return &Plan{all: all, masker: m, flows: make(map[uint64]*flowPlan), clean: newCleanMemo()}
}

// Masked reports whether the plan masks payloads.
func (p *Plan) Masked() bool { return p.masker != nil }

// All reports whether the plan writes every packet.
func (p *Plan) All() bool { return p.all }

// Stats returns the counters so far.
func (p *Plan) Stats() PlanStats {
	st := p.stats
	st.Flows = len(p.flows)
	st.Selected = 0
	for _, fp := range p.flows {
		if p.all || fp.selected {
			st.Selected++
		}
		if fp.capped {
			st.SecretsCapped++
		}
	}
	p.smu.Lock()
	for _, r := range p.streams {
		st.Streams += r.Stats.Connections
		st.StreamPatches += r.Stats.Patches
		for _, n := range r.Stats.Wiped {
			st.StreamWiped += n
		}
	}
	p.smu.Unlock()
	return st
}

// addStreams records what following one source's streams found.
func (p *Plan) addStreams(source string, r *streammask.Result) {
	p.smu.Lock()
	defer p.smu.Unlock()
	if p.streams == nil {
		p.streams = make(map[string]*streammask.Result)
	}
	p.streams[source] = r
}

// stream returns the stream instance a packet belongs to, or nil when
// its source's streams were not followed.
func (p *Plan) stream(source string, src, dst netip.AddrPort, ordinal uint64) *streammask.Instance {
	r := p.written[source]
	if r == nil {
		return nil
	}
	return r.Lookup(src, dst, ordinal)
}

func (p *Plan) flow(id uint64) *flowPlan {
	fp := p.flows[id]
	if fp == nil {
		fp = &flowPlan{id: id}
		p.flows[id] = fp
	}
	return fp
}

// AddFlow records (or refreshes) a flow: its source, client endpoint and
// packet ordinals. Published flows share their ordinals' backing array,
// so keeping the newest version costs nothing extra.
func (p *Plan) AddFlow(f *decode.Flow) {
	if f == nil || f.ID == 0 {
		return
	}
	fp := p.flow(f.ID)
	fp.source = f.Source
	fp.client = unmap(f.Client)
	fp.ordinals = f.Ordinals
	if f.Proto == "tls" || f.TLS != nil {
		fp.tls = true
	}
}

// Select marks a flow for export (a matching exchange on it, or the flow
// itself matched). It is sticky: a flow once selected stays selected.
func (p *Plan) Select(flowID uint64) {
	if flowID != 0 {
		p.flow(flowID).selected = true
	}
}

// SetSelected sets a flow's selection to the latest filter result, for
// filters on flows, whose later versions may stop matching.
func (p *Plan) SetSelected(flowID uint64, on bool) {
	if flowID != 0 {
		p.flow(flowID).selected = on
	}
}

// Selected reports whether a flow is selected.
func (p *Plan) Selected(flowID uint64) bool {
	fp := p.flows[flowID]
	return fp != nil && fp.selected
}

// AddExchange records a final exchange: its one-line summary (masked)
// for the packet comment, and, when masking, the secret values it holds
// so they can be found in the flow's packets.
func (p *Plan) AddExchange(e *decode.Exchange) {
	if e == nil || e.FlowID == 0 {
		return
	}
	p.stats.Exchanges++
	fp := p.flow(e.FlowID)
	if e.TLS {
		fp.tls = true
	}
	at, dir := e.Start, 0
	switch {
	case e.Request != nil && !e.Request.First.IsZero():
		at = e.Request.First
	case e.Request == nil && e.Response != nil && !e.Response.First.IsZero():
		at, dir = e.Response.First, 1
	}
	head, lat, tail := summaryParts(p.maskedURL(e))
	p.comments.add(&fp.comments[dir], at.UnixNano(), lat, head, tail)
	if p.masker != nil && !fp.tls && p.collectSecrets(fp, e) {
		p.stats.Secrets++
	}
}

// maskedURL returns e with its request's host and target masked, all a
// summary shows of what could be secret; the full display masking of
// bodies would be wasted here.
func (p *Plan) maskedURL(e *decode.Exchange) *decode.Exchange {
	if p.masker == nil || e.Request == nil {
		return e
	}
	t, h := p.maskText(e.Request.Target), p.maskText(e.Request.Host)
	if t == e.Request.Target && h == e.Request.Host {
		return e
	}
	c, r := *e, *e.Request
	r.Target, r.Host = t, h
	c.Request = &r
	return &c
}

// SpillComments makes the plan keep its exchange comments in a
// temporary file in dir (the default temp directory when empty) rather
// than in memory, so a big export's live heap stays small; Close removes
// the file. Call it before the first exchange is added.
func (p *Plan) SpillComments(dir string) error {
	f, err := os.CreateTemp(dir, "tapview-comments-*")
	if err != nil {
		return fmt.Errorf("creating a temp file for packet comments: %w (set TMPDIR to a writable directory)", err)
	}
	p.comments.store.f = f
	return nil
}

// Close releases what the plan holds outside memory (SpillComments).
func (p *Plan) Close() error { return p.comments.store.close() }

// maskText is the masker's Text, answered from the memo of clean values
// when s was found clean before.
func (p *Plan) maskText(s string) string {
	if s == "" || p.clean.Has(memoText, p.scratch(s)) {
		return s
	}
	t := p.masker.Text(s)
	if t == s {
		p.clean.Add(memoText, p.scratch(s))
	}
	return t
}

// prepare sorts comments by time before pass two and resets its state,
// so a plan can be written more than once.
func (p *Plan) prepare() error {
	p.comments.flush()
	if err := p.comments.store.err; err != nil {
		return fmt.Errorf("export: %w", err)
	}
	p.smu.Lock()
	p.written = make(map[string]*streammask.Result, len(p.streams))
	for name, r := range p.streams {
		r.Reset()
		p.written[name] = r
	}
	p.smu.Unlock()
	for _, fp := range p.flows {
		for d := range fp.comments {
			if cs := fp.comments[d].s; cs != nil {
				if err := cs.sortByTime(&p.comments.store); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				cs.rewind()
			}
			fp.last[d] = nil
		}
	}
	return nil
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
