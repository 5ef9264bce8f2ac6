package ui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/view"
)

// wsParts returns the frames of a WebSocket exchange from both of its
// messages in capture order. The decoder keeps them in one message with
// FromClient telling the direction; merging both sides keeps this right
// whichever message a source puts them in.
func wsParts(e *decode.Exchange) []decode.Part {
	var ps []decode.Part
	for _, m := range []*decode.Message{e.Request, e.Response} {
		if m != nil {
			ps = append(ps, m.Parts...)
		}
	}
	slices.SortStableFunc(ps, func(a, b decode.Part) int { return a.Time.Compare(b.Time) })
	return ps
}

// wsMessageLines is the Messages tab of a WebSocket exchange: every frame
// of both directions as one conversation, each headed by its direction.
func wsMessageLines(e *decode.Exchange, w, choice int) ([]dline, view.Kind) {
	ps := wsParts(e)
	if len(ps) == 0 {
		return []dline{{text: "no frames yet", kind: lineNote}}, view.Text
	}
	var out []dline
	if e.Error != "" {
		out = append(out, wrapLine("error: "+view.Sanitize(e.Error), lineWarn, w)...)
	}
	lines, used := partLines(&decode.Message{Parts: ps}, w, choice)
	return append(out, lines...), used
}

// wsSummaryLines is the Summary tab: frame and byte counts per
// direction, compressed and control frames, and how the connection
// closed.
func wsSummaryLines(e *decode.Exchange, w int) []dline {
	type side struct {
		frames, control, compressed, truncated int
		bytes                                  int64
	}
	var c, s side
	closeNote := "no close frame seen (" + string(e.State) + ")"
	for _, p := range wsParts(e) {
		d := &s
		if p.FromClient {
			d = &c
		}
		d.frames++
		d.bytes += p.Size
		switch p.Kind {
		case "text", "binary", "continuation":
		default:
			d.control++
		}
		if p.Compressed {
			d.compressed++
		}
		if p.Truncated {
			d.truncated++
		}
		if p.Kind == "close" {
			who := "server"
			if p.FromClient {
				who = "client"
			}
			closeNote = who + " sent close" + closeReason(p.Data)
		}
	}
	row := func(name string, d side) dline {
		t := fmt.Sprintf("%-18s %5d frames  %10s", name, d.frames, longBytes(d.bytes))
		var extra []string
		if d.control > 0 {
			extra = append(extra, fmt.Sprintf("%d control", d.control))
		}
		if d.compressed > 0 {
			extra = append(extra, fmt.Sprintf("%d compressed", d.compressed))
		}
		if d.truncated > 0 {
			extra = append(extra, fmt.Sprintf("%d truncated", d.truncated))
		}
		if len(extra) > 0 {
			t += "  (" + strings.Join(extra, ", ") + ")"
		}
		return dline{text: t}
	}
	out := []dline{
		{text: "WebSocket " + view.Sanitize(e.Client.String()) + " → " + view.Sanitize(e.Server.String()), kind: lineStart},
		{},
		row("client → server", c),
		row("server → client", s),
		{},
	}
	out = append(out, wrapLine(closeNote, lineNote, w)...)
	out = append(out, wrapLine("the HTTP upgrade is the exchange before this one on the same flow (l jumps to the flow)", lineNote, w)...)
	return out
}

// closeReason renders a close frame's payload: the status code and the
// reason text, when present.
func closeReason(data []byte) string {
	if len(data) < 2 {
		return ""
	}
	code := int(data[0])<<8 | int(data[1])
	r := fmt.Sprintf(" %d", code)
	if len(data) > 2 {
		r += " " + view.Sanitize(string(data[2:]))
	}
	return r
}
