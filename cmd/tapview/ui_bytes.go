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
}

// streamMaxBytes bounds what one read collects (the UI shows less).
const streamMaxBytes = 8 << 20

func (r streamReader) Stream(ctx context.Context, f *decode.Flow, masked bool) (iter.Seq2[ui.Chunk, error], error) {
	if len(f.Ordinals) == 0 {
		return nil, ui.ErrNoBytes
	}
	path, ok := captureFile(f.Source)
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
	src, err := pcapfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s again: %w", path, err)
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

// chunkEmitter picks the flow's packets out of a capture read again.
type chunkEmitter struct {
	f      *decode.Flow
	client netip.AddrPort
	next   int // index into f.Ordinals of the next wanted packet
	out    []ui.Chunk
	bytes  int
	frame  link.Frame
	// end of the highest sequence number seen per direction, to tell
	// retransmissions (their data is not shown twice)
	seen   [2]uint32
	inited [2]bool
	stop   context.CancelFunc
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
	srcAP := netip.AddrPortFrom(fr.Src, fr.SrcPort)
	c := ui.Chunk{Frame: p.Ordinal, Time: p.Timestamp, FromClient: srcAP == e.client}
	dir := 1
	if c.FromClient {
		dir = 0
	}
	data := fr.Payload
	if fr.Proto == link.ProtoTCP && len(data) > 0 {
		end := fr.Seq + uint32(len(data))
		switch {
		case !e.inited[dir]:
			e.inited[dir], e.seen[dir] = true, end
		case int32(end-e.seen[dir]) <= 0:
			c.Note, data = "retransmission, not repeated", nil
		case int32(fr.Seq-e.seen[dir]) < 0:
			// Overlaps what was seen: show only the new part.
			data = data[e.seen[dir]-fr.Seq:]
			e.seen[dir] = end
			c.Note = "partly retransmitted"
		default:
			e.seen[dir] = end
		}
	}
	if len(fr.Payload) < fr.PayloadLen {
		c.Note = joinNote(c.Note, fmt.Sprintf("cut by the capture's snaplen: %d of %d bytes", len(fr.Payload), fr.PayloadLen))
	}
	if len(data) == 0 && c.Note == "" {
		return // handshake, pure ACKs, teardown
	}
	c.Data = slices.Clone(data)
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
	e := &chunkEmitter{f: f, client: f.Client, stop: cancel}
	err := src.Run(ctx, e)
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
