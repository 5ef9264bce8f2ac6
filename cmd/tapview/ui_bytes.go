package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
	"github.com/tapview/tapview/ui"
)

// streamReader is the UI's bytes view (key s): it reads the packets of
// one flow again from its capture file by ordinal (the frame numbers
// Wireshark shows) and hands their payloads over, masked as a masked
// pcap export is. Sources that keep no bytes answer ui.ErrNoBytes.
type streamReader struct {
	maskRules string
	again     captures
}

// streamMaxBytes bounds what one read collects (the UI shows less).
const streamMaxBytes = 8 << 20

func (r streamReader) Stream(ctx context.Context, f *decode.Flow, masked bool) (iter.Seq2[ui.Chunk, error], error) {
	if len(f.Ordinals) == 0 {
		return nil, ui.ErrNoBytes
	}
	open, ok := r.again.opener(f.Source)
	if !ok {
		return nil, ui.ErrNoBytes
	}
	var m *mask.Masker
	if masked {
		var err error
		if m, err = buildMasker(r.maskRules); err != nil {
			return nil, err
		}
	}
	src, err := open()
	if err != nil {
		return nil, err
	}
	chunks, err := flowChunks(ctx, src, f)
	if err != nil && len(chunks) == 0 {
		return nil, err
	}
	maskChunks(chunks, m)
	return func(yield func(ui.Chunk, error) bool) {
		for _, c := range chunks {
			if !yield(c, nil) {
				return
			}
		}
		if err != nil {
			yield(ui.Chunk{}, err)
		}
	}, nil
}

// chunkEmitter picks the flow's packets out of a capture read again and
// puts each direction's TCP payload in sequence order, as Wireshark's
// Follow TCP Stream does: a retransmission is shown as a frame without
// data, a segment that arrived early waits until the gap before it is
// filled.
type chunkEmitter struct {
	f     *decode.Flow
	next  int // index into f.Ordinals of the next wanted packet
	out   []ui.Chunk
	bytes int // shown and held payload, bounded by streamMaxBytes
	held  int // of which held back, waiting for a gap to fill
	frame link.Frame
	dirs  [2]tcpDir // 0: client to server
	stop  context.CancelFunc
}

// tcpDir is one direction's reassembly state.
type tcpDir struct {
	started bool
	next    uint32 // sequence number of the next byte expected
	early   []earlySeg
}

type earlySeg struct {
	seq uint32
	c   ui.Chunk
}

func (e *chunkEmitter) Status(sources.Status) {}

func (e *chunkEmitter) Packet(p sources.Packet) {
	ords := e.f.Ordinals
	for e.next < len(ords) && ords[e.next] < p.Ordinal {
		e.next++
	}
	if e.next >= len(ords) || e.bytes > streamMaxBytes {
		e.stop()
		return
	}
	if ords[e.next] != p.Ordinal {
		return
	}
	e.next++
	fr := &e.frame
	if err := link.Parse(p.LinkType, p.Data, fr); err != nil || fr.Fragment {
		return
	}
	src, dst := netip.AddrPortFrom(fr.Src, fr.SrcPort), netip.AddrPortFrom(fr.Dst, fr.DstPort)
	var fromClient bool
	switch {
	case src == e.f.Client && dst == e.f.Server:
		fromClient = true
	case src == e.f.Server && dst == e.f.Client:
	default:
		return // not this flow's (an ordinal list from another source)
	}
	c := ui.Chunk{Frame: p.Ordinal, Time: p.Timestamp, FromClient: fromClient}
	if len(fr.Payload) < fr.PayloadLen {
		c.Note = fmt.Sprintf("cut by the capture's snaplen: %d of %d bytes", len(fr.Payload), fr.PayloadLen)
	}
	if fr.Proto != link.ProtoTCP {
		c.Data = slices.Clone(fr.Payload)
		e.emit(c)
		return
	}
	d := &e.dirs[1]
	if fromClient {
		d = &e.dirs[0]
	}
	if fr.Flags.Has(link.FlagSYN) {
		d.started, d.next = true, fr.Seq+1
	}
	if len(fr.Payload) == 0 {
		if c.Note != "" {
			e.emit(c)
		}
		return
	}
	if !d.started {
		d.started, d.next = true, fr.Seq // joined mid-stream
	}
	c.Data = slices.Clone(fr.Payload)
	if int32(fr.Seq-d.next) > 0 {
		c.Note = joinNote(c.Note, "arrived early, shown in sequence")
		d.early = append(d.early, earlySeg{seq: fr.Seq, c: c})
		// Held segments count against the bound too: a gap that never
		// fills must not hold a whole capture in memory.
		e.bytes += len(c.Data)
		e.held += len(c.Data)
		return
	}
	e.place(d, fr.Seq, c)
	e.drain(d)
}

// place shows the part of a segment after what was already shown.
func (e *chunkEmitter) place(d *tcpDir, seq uint32, c ui.Chunk) {
	end := seq + uint32(len(c.Data))
	switch {
	case int32(end-d.next) <= 0:
		c.Note, c.Data = joinNote(c.Note, "retransmission, not repeated"), nil
	case int32(seq-d.next) < 0:
		c.Data = c.Data[d.next-seq:]
		c.Note = joinNote(c.Note, "partly retransmitted")
		d.next = end
	default:
		d.next = end
	}
	e.emit(c)
}

// drain places early segments whose turn has come.
func (e *chunkEmitter) drain(d *tcpDir) {
	for {
		i := slices.IndexFunc(d.early, func(s earlySeg) bool { return int32(s.seq-d.next) <= 0 })
		if i < 0 {
			return
		}
		s := d.early[i]
		d.early = slices.Delete(d.early, i, i+1)
		e.unhold(len(s.c.Data))
		e.place(d, s.seq, s.c)
	}
}

// flush shows what still waits for bytes the capture never had.
func (e *chunkEmitter) flush() {
	for i := range e.dirs {
		d := &e.dirs[i]
		slices.SortFunc(d.early, func(a, b earlySeg) int { return int(int32(a.seq - b.seq)) })
		for len(d.early) > 0 {
			s := d.early[0]
			d.early = d.early[1:]
			e.unhold(len(s.c.Data))
			if int32(s.seq-d.next) > 0 {
				s.c.Note = joinNote(s.c.Note, fmt.Sprintf("%d bytes before it were not captured", s.seq-d.next))
				d.next = s.seq
			}
			e.place(d, s.seq, s.c)
		}
	}
}

// unhold takes a held segment back off the count before it is placed.
func (e *chunkEmitter) unhold(n int) {
	e.bytes -= n
	e.held -= n
}

func (e *chunkEmitter) emit(c ui.Chunk) {
	e.bytes += len(c.Data)
	e.out = append(e.out, c)
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// flowChunks reads src and returns the payload of f's packets.
func flowChunks(ctx context.Context, src *pcapfile.Source, f *decode.Flow) ([]ui.Chunk, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e := &chunkEmitter{f: f, stop: cancel}
	err := src.Run(ctx, e)
	e.flush()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return e.out, err
}

// maskChunks overwrites secrets in place, over each run of consecutive
// chunks of one direction joined, so a secret split across two segments
// is still found (as the pcap export masks).
func maskChunks(chunks []ui.Chunk, m *mask.Masker) {
	if m == nil {
		return
	}
	for i := 0; i < len(chunks); {
		j := i
		var joined []byte
		for j < len(chunks) && chunks[j].FromClient == chunks[i].FromClient {
			joined = append(joined, chunks[j].Data...)
			j++
		}
		m.MaskInPlace(joined)
		for k := i; k < j; k++ {
			n := copy(chunks[k].Data, joined)
			joined = joined[n:]
		}
		i = j
	}
}
