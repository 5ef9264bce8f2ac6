package packets

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/sources"
)

// DefaultWindow is how many packets Write holds back before writing, so a
// secret that continues into a later segment of the same direction can
// still be masked in the earlier one.
const DefaultWindow = 256

// Inputs are the streams of pass two.
type Inputs struct {
	// Captured are the captures read again (or their spools), each in
	// its own order with the ordinals of pass one.
	Captured []Stream
	// Synthetic holds packets synthesized from exchanges without packets,
	// in time order, already masked and commented. They bypass selection
	// and masking. May be nil.
	Synthetic Stream
	// Slabs, when the captures read again carve their packets from it
	// (pcapfile.Source.SetSlabs), gets each packet back once it is
	// written or dropped. May be nil.
	Slabs *SlabPool
}

// Options tune Write.
type Options struct {
	// IncludeKeys writes key material into the file when the writer can
	// hold it (pcapng Decryption Secrets Blocks): KeyLog first, then every
	// block the captures embed, where they occur.
	IncludeKeys bool
	// KeyLog is NSS key log text (from --keylog) written before any packet.
	KeyLog []byte
	// Seen limits each source to the packets pass one decoded (a run cut
	// short by --duration or --count); nil writes everything.
	Seen *SourceSet
	// Window is the look-ahead in packets; 0 means DefaultWindow.
	Window int
}

// Result counts what Write wrote.
type Result struct {
	Packets     int // packets written
	Synthesized int // of which synthesized
	Masked      int // packets whose payload was changed by masking
	Fixed       int // of which got a recomputed checksum
	Comments    int // comment lines placed: exchange summaries and notes on units overwritten whole
	Unplaced    int // exchange comments of selected flows that found no packet
	KeyBlocks   int // Decryption Secrets Blocks written
}

// secretsWriter is the part of pcapw.PcapngWriter that holds key material.
type secretsWriter interface {
	WriteSecrets(kind uint32, data []byte) error
}

// packetOut is a packet on its way out, with its comment.
type packetOut struct {
	p       sources.Packet
	comment string
}

// Write runs pass two: it merges the input streams by time, keeps the
// packets the plan selects, masks and annotates them, and writes them to
// pw, then flushes pw. The streams are closed when Write returns.
func Write(ctx context.Context, pw pcapw.PacketWriter, plan *Plan, in Inputs, opts Options) (Result, error) {
	mg := newMerger(in.Captured, in.Synthetic)
	w := &writer{plan: plan, pw: pw, opts: opts, idx: plan.indexes(), out: newOutput(plan, pw, in.Slabs), slabs: in.Slabs}
	err := w.run(ctx, mg)
	if cerr := mg.close(); err == nil {
		err = cerr
	}
	written, oerr := w.out.close()
	if err == nil {
		err = oerr
	}
	written.Synthesized, written.Unplaced = w.res.Synthesized, w.res.Unplaced
	w.res = written
	if err == nil {
		err = pw.Flush()
	}
	return w.res, err
}

type writer struct {
	plan    *Plan
	pw      pcapw.PacketWriter
	opts    Options
	idx     map[string]*ordIndex
	res     Result // Synthesized and Unplaced; out counts the rest
	out     *output
	frame   link.Frame
	ring    []*held
	head, n int
	seq     uint64
	scratch []byte
	err     error // reading comments back
	slabs   *SlabPool
}

func (w *writer) run(ctx context.Context, mg *merger) error {
	if err := w.plan.prepare(); err != nil {
		return err
	}
	size := w.opts.Window
	if size <= 0 {
		size = DefaultWindow
	}
	w.ring = make([]*held, size)
	_, canKeys := w.pw.(secretsWriter)
	canKeys = canKeys && w.opts.IncludeKeys
	if canKeys && len(w.opts.KeyLog) > 0 {
		w.out.put(outItem{kind: pcapw.SecretsTLSKeyLog, data: w.opts.KeyLog})
	}
	for i := 0; ; i++ {
		if i%1024 == 0 {
			if ctx.Err() != nil {
				return fmt.Errorf("export: %w", ctx.Err())
			}
			if w.out.failed.Load() {
				return nil // out has the error
			}
		}
		if w.err != nil {
			return w.err
		}
		rec, synthetic, err := mg.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("export: reading the input again: %w", err)
		}
		if rec.IsSecrets() {
			if canKeys {
				w.out.put(outItem{kind: rec.SecretsKind, data: rec.Secrets})
			}
			continue
		}
		var h *held
		if synthetic {
			h = w.out.newHeld()
			h.pkt = packetOut{rec.Packet, rec.Comment}
			w.res.Synthesized++
		} else if h = w.captured(rec.Packet); h == nil {
			w.slabs.release(rec.Packet.Data)
			continue
		}
		if err := w.push(h); err != nil {
			return err
		}
	}
	for w.n > 0 {
		if err := w.pop(); err != nil {
			return err
		}
	}
	for _, fp := range w.plan.flows {
		if w.plan.all || fp.selected {
			for _, l := range fp.comments {
				if l.s != nil {
					w.res.Unplaced += l.s.n - l.s.taken
				}
			}
		}
	}
	return nil
}

// captured decides about one re-read packet: nil when it is not
// exported, else the packet masked and with its comment.
func (w *writer) captured(p sources.Packet) *held {
	if w.opts.Seen != nil {
		if last, ok := w.opts.Seen.Last(p.Source); !ok || p.Ordinal > last {
			return nil
		}
	}
	var fp *flowPlan
	if ix := w.idx[p.Source]; ix != nil {
		fp = ix.lookup(p.Ordinal)
	}
	if fp == nil && !w.plan.all {
		return nil
	}
	h := w.out.newHeld()
	h.pkt, h.fp = packetOut{p: p}, fp
	f := &w.frame
	if err := link.Parse(p.LinkType, p.Data, f); err != nil {
		return h
	}
	m := w.plan.masker
	if m != nil {
		h.inspect(f, p.Data)
	}
	src, dst := f.AddrPorts()
	// What following the streams in pass one found is patched first;
	// a payload pass one walked whole needs no per-packet scan.
	covered := false
	if m != nil && (fp == nil || !fp.tls) && len(h.payload) > 0 && f.Proto == link.ProtoTCP && !f.Fragment {
		if in := w.plan.stream(p.Source, src, dst, p.Ordinal); in != nil {
			a := in.Apply(f.Seq, f.Flags.Has(link.FlagSYN), h.payload)
			covered = a.Covered
			if a.Changed {
				h.changed = true
			}
			if len(a.Notes) > 0 {
				h.pkt.comment = joinComment(h.pkt.comment, strings.Join(a.Notes, "\n"))
			}
		}
	}
	if fp == nil {
		if m != nil && !covered && len(h.payload) > 0 && m.MaskInPlace(h.payload) > 0 {
			h.changed = true
		}
		return h
	}
	if unmap(src) != fp.client {
		h.dir = 1
	}
	if !f.Fragment && f.PayloadLen > 0 {
		if err := fp.due(&w.plan.comments.store, h, p); err != nil && w.err == nil {
			w.err = err
		}
	}
	if m == nil || fp.tls || len(h.payload) == 0 {
		return h
	}
	if maskBytes(m, fp, h.dir, h.payload, !covered) {
		h.changed = true
	}
	if f.Fragment {
		return h
	}
	if prev := fp.last[h.dir]; w.holds(prev) {
		h.prev = prev
	}
	// Values continuing into this segment were found in the stream
	// when pass one walked it; otherwise look across the window.
	if !covered && (len(fp.secrets) > 0 || len(fp.wipe) > 0) {
		w.scratch = maskAcross(fp, h, w.holds, w.scratch)
	}
	fp.last[h.dir] = h
	return h
}

// joinComment joins two packet comments, either of which may be empty.
func joinComment(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "\n" + b
}

// due gives packet p (h) the comments of its direction that are due at
// its time; their text is made by the output goroutine (output.write).
func (fp *flowPlan) due(st *commentStore, h *held, p sources.Packet) error {
	s := fp.comments[h.dir].s
	if s == nil {
		return nil
	}
	at := p.Timestamp.UnixNano()
	for {
		next, ok, err := s.peek(st)
		if err == nil && ok && next <= at {
			var c summary
			if c, err = s.take(); err == nil {
				h.sums = append(h.sums, c)
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		return nil
	}
}

// holds reports whether h is still in the window (not yet written).
func (w *writer) holds(h *held) bool {
	return h != nil && h.seq+uint64(w.n) >= w.seq
}

func (w *writer) push(h *held) error {
	if w.n == len(w.ring) {
		if err := w.pop(); err != nil {
			return err
		}
	}
	h.seq = w.seq
	w.seq++
	w.ring[(w.head+w.n)%len(w.ring)] = h
	w.n++
	return nil
}

// pop hands the oldest held packet to the output goroutine.
func (w *writer) pop() error {
	h := w.ring[w.head]
	w.ring[w.head] = nil
	w.head = (w.head + 1) % len(w.ring)
	w.n--
	if h.fp != nil && h.fp.last[h.dir] == h {
		h.fp.last[h.dir] = nil
	}
	h.prev = nil
	w.out.put(outItem{h: h})
	return nil
}

// ordIndex finds the flow of a packet by its ordinal: a heap over the
// flows of one source, keyed by each flow's next ordinal. Packets come in
// ordinal order, so each flow's ordinal list is walked once.
type ordIndex []cursor

type cursor struct {
	fp *flowPlan
	i  int
}

func (x ordIndex) Len() int           { return len(x) }
func (x ordIndex) Less(i, j int) bool { return x[i].next() < x[j].next() }
func (x ordIndex) Swap(i, j int)      { x[i], x[j] = x[j], x[i] }
func (x *ordIndex) Push(v any)        { *x = append(*x, v.(cursor)) }
func (x *ordIndex) Pop() any {
	old := *x
	v := old[len(old)-1]
	*x = old[:len(old)-1]
	return v
}

func (c cursor) next() uint64 { return c.fp.ordinals[c.i] }

// lookup returns the flow that packet ordinal ord belongs to, or nil.
func (x *ordIndex) lookup(ord uint64) *flowPlan {
	for x.Len() > 0 {
		top := &(*x)[0]
		n := top.next()
		if n > ord {
			return nil
		}
		fp := top.fp
		top.i++
		if top.i >= len(fp.ordinals) {
			heap.Pop(x)
		} else {
			heap.Fix(x, 0)
		}
		if n == ord {
			return fp
		}
	}
	return nil
}

// indexes builds the per-source ordinal indexes of the flows to write.
func (p *Plan) indexes() map[string]*ordIndex {
	out := make(map[string]*ordIndex)
	for _, fp := range p.flows {
		if len(fp.ordinals) == 0 || !(p.all || fp.selected) {
			continue
		}
		ix := out[fp.source]
		if ix == nil {
			ix = &ordIndex{}
			out[fp.source] = ix
		}
		*ix = append(*ix, cursor{fp: fp})
	}
	for _, ix := range out {
		heap.Init(ix)
	}
	return out
}
