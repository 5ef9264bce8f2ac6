package ui

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/view"
)

// Chunk is the payload of one packet of a flow.
type Chunk struct {
	// Frame is the packet's number in its capture file, counted from 1
	// as Wireshark numbers frames.
	Frame uint64
	Time  time.Time
	// FromClient is the direction: client to server, or back.
	FromClient bool
	Data       []byte
	// Note says what is odd about the packet ("retransmission",
	// "cut by snaplen"), empty for an ordinary one.
	Note string
}

// ErrNoBytes says a flow's packets cannot be read again: the source kept
// no bytes (tap traces, a pipe, a live capture without -w).
var ErrNoBytes = errors.New("the packets of this flow were not kept")

// StreamReader reads a flow's payload again, packet by packet in capture
// order, from where it was captured. With masked set, secrets are
// overwritten as in a masked pcap export. The CLI implements it with the
// capture readers, so ui needs no packet decoding of its own.
type StreamReader interface {
	Stream(ctx context.Context, f *decode.Flow, masked bool) (iter.Seq2[Chunk, error], error)
}

// maxStreamBytes bounds the payload one bytes view holds; export has
// the rest.
const maxStreamBytes = 4 << 20

type streamKey struct {
	flow   uint64
	masked bool
}

type streamResult struct {
	key       streamKey
	chunks    []Chunk
	cut       bool // stopped at maxStreamBytes
	err       error
	c2s, s2c  int64
	seenBytes int64
}

// bytesView follows a flow's stream: every packet's payload in capture
// order, client and server in their own colours, as text or hex. It is
// the flow's bytes as they crossed the wire (TLS stays encrypted).
type bytesView struct {
	scroller
	flow   *decode.Flow
	want   streamKey
	res    *streamResult
	hex    bool
	cacheW int
	cacheH bool
	cache  []string
	// anchor is the start of the exchange the view was opened from: it
	// opens at that exchange's first packet, not at the connection's.
	anchor     time.Time
	anchorLine int
	anchored   bool
}

// openStream opens the bytes view on the flow of the selected exchange
// or the selected flow.
func (m *Model) openStream() tea.Cmd {
	if m.external() != nil {
		return m.flash("s shows the bytes of a flow; open a list with 1 or 2", false)
	}
	e, f := m.cursorItem(m.pane)
	if m.detail.open && m.detail.pane == paneFlows {
		f = m.cfg.Store.FlowByID(m.detail.id)
	}
	if e != nil {
		f = m.cfg.Store.FlowByID(e.FlowID)
	}
	if f == nil {
		return m.flash("the flow of this row is no longer kept, so its bytes cannot be shown", false)
	}
	v := &bytesView{flow: f}
	if e != nil {
		v.anchor = e.Start
	}
	m.openOverlay(v)
	return v.load(m)
}

// load reads the stream in a command unless it is already there.
func (v *bytesView) load(m *Model) tea.Cmd {
	want := streamKey{flow: v.flow.ID, masked: m.masked}
	if v.res != nil && v.res.key == want || v.want == want {
		return nil
	}
	v.want = want
	v.cache = nil
	sr, f, ctx := m.cfg.Stream, v.flow, m.ctx
	if sr == nil {
		v.res = &streamResult{key: want, err: ErrNoBytes}
		return nil
	}
	return m.work(func() tea.Msg { return readStream(ctx, sr, f, want) })
}

func readStream(ctx context.Context, sr StreamReader, f *decode.Flow, key streamKey) streamResult {
	r := streamResult{key: key}
	seq, err := sr.Stream(ctx, f, key.masked)
	if err != nil {
		r.err = err
		return r
	}
	for c, err := range seq {
		if err != nil {
			r.err = err
			break
		}
		if r.seenBytes+int64(len(c.Data)) > maxStreamBytes {
			r.cut = true
			break
		}
		r.seenBytes += int64(len(c.Data))
		if c.FromClient {
			r.c2s += int64(len(c.Data))
		} else {
			r.s2c += int64(len(c.Data))
		}
		r.chunks = append(r.chunks, c)
	}
	return r
}

func (m *Model) onStreamResult(r streamResult) {
	v, ok := m.over.(*bytesView)
	if !ok || r.key != v.want {
		return
	}
	v.res = &r
	v.cache = nil
}

func (v *bytesView) key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	switch {
	case key.Matches(k, m.keys.View):
		v.hex = !v.hex
		v.anchored = false // back at the exchange's first packet in the new layout
		return nil, true
	case key.Matches(k, m.keys.Mask):
		cmd := m.toggleMask()
		return tea.Batch(cmd, v.load(m)), true
	}
	all := v.render(m)
	return nil, v.scrollKey(m.keys, k, len(all), m.bodyHeight()-1)
}

func (v *bytesView) hints() string { return "v hex/text · m mask · q back " }

func (v *bytesView) lines(m *Model, h int) []string {
	f := v.flow
	mode := "text"
	if v.hex {
		mode = "hex"
	}
	title := fmt.Sprintf(" Bytes · %s %s → %s", f.Transport, f.Client, f.Server)
	if f.Proto != "" {
		title += " · " + view.Sanitize(f.Proto)
	}
	info := mode
	if v.res != nil && v.res.err == nil {
		info = fmt.Sprintf("%d %s · %s ⇄ %s · %s", len(v.res.chunks), plural(len(v.res.chunks), "packet"),
			longBytes(v.res.c2s), longBytes(v.res.s2c), mode)
	}
	all := v.render(m)
	if !v.anchored && v.res != nil {
		v.top, v.anchored = v.anchorLine, true
	}
	if pos := v.position(len(all), h-1); pos != "" {
		info += " · " + pos
	}
	out := []string{joinEnds(m.st.bold.Render(title), m.st.dim.Render(info+" "), m.w)}
	return append(out, v.window(all, h-1)...)
}

// render lays the stream out for the screen width, cached until the
// width, the mode or the content changes.
func (v *bytesView) render(m *Model) []string {
	if v.cache != nil && v.cacheW == m.w && v.cacheH == v.hex {
		return v.cache
	}
	var out []string
	noteLine := func(s string) {
		for _, l := range wrapProse(s, m.w-2, 8) {
			out = append(out, " "+m.st.note.Render(l))
		}
	}
	switch r := v.res; {
	case r == nil:
		return []string{" " + m.spinner() + " reading the packets of this flow again…"}
	case errors.Is(r.err, ErrNoBytes):
		noteLine("The packets of this flow were not kept, so its bytes cannot be shown. A pipe or a live capture keeps them only when " +
			"recorded with -w FILE.pcapng; then open that file with tapview open FILE.pcapng. Envoy tap traces carry no packets: their messages are in the Request and " +
			"Response tabs, and x to a .pcapng file writes them as synthesized packets.")
		return v.keep(m, out)
	case r.err != nil && len(r.chunks) == 0:
		noteLine("Reading the packets again failed: " + view.Sanitize(r.err.Error()) + ". If the capture file moved, open it again from its new place.")
		return v.keep(m, out)
	}
	r := v.res
	if r.key.masked {
		noteLine("Masked: secrets are overwritten with * as in a masked export; m shows the bytes as captured.")
	}
	if len(r.chunks) == 0 {
		noteLine("No packet of this flow carried payload (a handshake and teardown only).")
	}
	cli, srv := m.st.streamC, m.st.streamS
	v.anchorLine = 0
	for _, c := range r.chunks {
		if v.anchorLine == 0 && !v.anchor.IsZero() && c.FromClient && len(c.Data) > 0 && !c.Time.Before(v.anchor) {
			v.anchorLine = len(out)
		}
		st, dir := srv, "server → client"
		if c.FromClient {
			st, dir = cli, "client → server"
		}
		head := fmt.Sprintf("frame %d · %s · %s · %s", c.Frame, clock(c.Time.In(m.loc), m.days), dir, longBytes(int64(len(c.Data))))
		if c.Note != "" {
			head += " · " + view.Sanitize(c.Note)
		}
		out = append(out, " "+m.st.dim.Render(head))
		if len(c.Data) == 0 {
			continue
		}
		var body []string
		if v.hex {
			body = hexLines(c.Data, m.w-2)
		} else {
			body = textLines(c.Data, m.w-2)
		}
		for _, l := range body {
			out = append(out, " "+st.Render(l))
		}
	}
	if r.cut {
		noteLine(fmt.Sprintf("Only the first %s are shown; export the flow (x on the flows list) for all of it.", longBytes(maxStreamBytes)))
	}
	if r.err != nil {
		noteLine("Reading stopped early: " + view.Sanitize(r.err.Error()))
	}
	return v.keep(m, out)
}

func (v *bytesView) keep(m *Model, out []string) []string {
	for i := range out {
		out[i] = truncateStyled(out[i], m.w)
	}
	v.cache, v.cacheW, v.cacheH = out, m.w, v.hex
	return out
}

// textLines shows payload as text: printable ASCII as is, line breaks
// kept, every other byte as a dot (as Wireshark's ASCII view does), and
// long lines wrapped at w.
func textLines(b []byte, w int) []string {
	w = max(w, 8)
	var out []string
	var cur strings.Builder
	flush := func() {
		out = append(out, cur.String())
		cur.Reset()
	}
	for i, c := range b {
		switch {
		case c == '\n':
			flush()
			continue
		case c == '\r' && i+1 < len(b) && b[i+1] == '\n':
			continue
		case c == '\t':
			cur.WriteString("  ")
		case c >= 0x20 && c < 0x7f:
			cur.WriteByte(c)
		default:
			cur.WriteByte('.')
		}
		if cur.Len() >= w {
			flush()
		}
	}
	if cur.Len() > 0 {
		flush()
	}
	return out
}

// hexLines is a classic hex dump: offset, 16 bytes (8 on narrow
// screens) in hex, and the same bytes as ASCII.
func hexLines(b []byte, w int) []string {
	per := 16
	if w < 6+16*3+2+16 {
		per = 8
	}
	const digits = "0123456789abcdef"
	var out []string
	for off := 0; off < len(b); off += per {
		row := b[off:min(off+per, len(b))]
		var s strings.Builder
		fmt.Fprintf(&s, "%04x  ", off)
		for i := 0; i < per; i++ {
			if i < len(row) {
				s.WriteByte(digits[row[i]>>4])
				s.WriteByte(digits[row[i]&15])
				s.WriteByte(' ')
			} else {
				s.WriteString("   ")
			}
			if i == 7 && per == 16 {
				s.WriteByte(' ')
			}
		}
		s.WriteByte(' ')
		for _, c := range row {
			if c >= 0x20 && c < 0x7f {
				s.WriteByte(c)
			} else {
				s.WriteByte('.')
			}
		}
		out = append(out, s.String())
	}
	return out
}
