package ui

import (
	"errors"
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
	"github.com/tapview/tapview/decode/view"
)

// maxShownBody bounds how much of one decoded body the detail renders;
// more is available through export.
const maxShownBody = 4 << 20

// lineKind says how a detail line is styled.
type lineKind uint8

const (
	linePlain   lineKind = iota
	lineStart            // request or status line
	lineHeader           // "Name: value", name coloured up to split
	lineSection          // "── body · json ──" rule
	lineNote             // explanation from tapview, not from the wire
	lineWarn             // an error on the exchange
)

// dline is one line of detail content: sanitized text plus how to style it.
type dline struct {
	text  string
	kind  lineKind
	split int
}

// autoView means "detect the body view".
const autoView = -1

// bodyLines renders one message body, or its framed parts, below a
// section rule. choice is a view.Kind or autoView; used reports the kind
// the (first) body was shown as.
func bodyLines(msg *decode.Message, width, choice int) (out []dline, used view.Kind) {
	used = view.Text
	if len(msg.Parts) > 0 {
		return partLines(msg, width, choice)
	}
	if len(msg.Body) == 0 && msg.BodySize == 0 {
		return []dline{{text: "no body", kind: lineNote}}, used
	}
	data, notes := decodedBody(msg)
	kind := view.Kind(choice)
	if choice == autoView {
		kind = view.Detect(msg.ContentType(), data)
	}
	lines, used := view.Render(kind, data, width)
	info := []string{"body", used.String(), longBytes(msg.BodySize)}
	if len(msg.ContentEncoding) > 0 && len(notes) == 0 {
		info = append(info, strings.Join(msg.ContentEncoding, "+")+" → "+longBytes(int64(len(data))))
	}
	if msg.Truncated {
		info = append(info, fmt.Sprintf("truncated: %s kept", longBytes(int64(len(msg.Body)))))
	}
	out = append(out, section(strings.Join(info, " · "), width))
	for _, n := range notes {
		out = append(out, dline{text: n, kind: lineNote})
	}
	if kind != used && choice != autoView {
		out = append(out, dline{text: "not valid " + kind.String() + "; shown as " + used.String(), kind: lineNote})
	}
	for _, l := range lines {
		out = append(out, dline{text: l})
	}
	return out, used
}

// decodedBody undoes content codings and caps what is shown.
func decodedBody(msg *decode.Message) ([]byte, []string) {
	data := msg.Body
	var notes []string
	if body.NeedsDecoding(msg.ContentEncoding) {
		dec, err := body.Decode(msg.ContentEncoding, msg.Body, maxShownBody)
		switch {
		case err == nil:
			data = dec
		case errors.Is(err, body.ErrTooLarge):
			data = dec
			notes = append(notes, fmt.Sprintf("showing the first %s of the decoded body", longBytes(maxShownBody)))
		case len(dec) > 0:
			data = dec
			notes = append(notes, "decoding stopped early: "+view.Sanitize(err.Error()))
		default:
			notes = append(notes, "cannot undo "+view.Sanitize(strings.Join(msg.ContentEncoding, "+"))+": "+
				view.Sanitize(err.Error())+"; showing bytes as transferred")
		}
	}
	if len(data) > maxShownBody {
		data = data[:maxShownBody]
		notes = append(notes, fmt.Sprintf("showing the first %s", longBytes(maxShownBody)))
	}
	return data, notes
}

// partLines shows gRPC messages and WebSocket frames one after another.
func partLines(msg *decode.Message, width, choice int) (out []dline, used view.Kind) {
	used = view.Protobuf
	for i, p := range msg.Parts {
		info := []string{fmt.Sprintf("%s %d/%d", partName(p.Kind), i+1, len(msg.Parts)), longBytes(p.Size)}
		if p.Compressed {
			info = append(info, "compressed")
		}
		if p.Truncated {
			info = append(info, "truncated")
		}
		if p.Kind != "grpc" && !dnsSection(p.Kind) { // WebSocket frames, control frames too
			if p.FromClient {
				info = append(info, "client → server")
			} else {
				info = append(info, "server → client")
			}
		}
		kind := view.Kind(choice)
		if choice == autoView {
			kind = partKind(p)
		}
		lines, u := view.Render(kind, p.Data, width)
		if i == 0 {
			used = u
		}
		info = append(info, u.String())
		out = append(out, section(strings.Join(info, " · "), width))
		if len(lines) == 0 {
			out = append(out, dline{text: "empty", kind: lineNote})
		}
		for _, l := range lines {
			out = append(out, dline{text: l})
		}
	}
	return out, used
}

func partName(kind string) string {
	switch kind {
	case "grpc":
		return "message"
	case "", "text", "binary":
		return "frame"
	}
	return view.Sanitize(kind)
}

// dnsSection reports the parts of a DNS message, one per section; they
// have no direction of their own (the tab says whose message it is).
func dnsSection(kind string) bool {
	switch kind {
	case "question", "answer", "authority", "additional":
		return true
	}
	return false
}

func partKind(p decode.Part) view.Kind {
	switch p.Kind {
	case "grpc":
		return view.Protobuf
	case "text":
		return view.Detect("", p.Data)
	}
	return view.Detect("application/octet-stream", p.Data)
}

// section is a rule with a label: "── body · json · 2.1 KiB ─────".
func section(label string, w int) dline {
	s := "── " + label + " "
	if n := w - width(s); n > 0 {
		s += strings.Repeat("─", n)
	}
	return dline{text: s, kind: lineSection}
}

// headerLines shows header fields one per line, wrapped with a hanging
// indent so a long cookie stays readable.
func headerLines(hs []decode.Header, w int) []dline {
	var out []dline
	for _, h := range hs {
		name := view.Sanitize(h.Name)
		text := name + ": " + view.Sanitize(h.Value)
		for i, piece := range view.Wrap(text, w) {
			if i == 0 {
				out = append(out, dline{text: piece, kind: lineHeader, split: len(name) + 1})
				continue
			}
			out = append(out, dline{text: "    " + strings.TrimLeft(piece, " ")})
		}
	}
	return out
}

// wrapLine wraps a line of the given kind: prose (notes, warnings) at
// word boundaries, wire text (start lines) anywhere.
func wrapLine(text string, kind lineKind, w int) []dline {
	var pieces []string
	if kind == lineNote || kind == lineWarn {
		pieces = strings.Split(ansi.Wrap(text, w, ""), "\n")
	} else {
		pieces = view.Wrap(text, w)
	}
	out := make([]dline, 0, len(pieces))
	for _, p := range pieces {
		out = append(out, dline{text: p, kind: kind})
	}
	return out
}

// dnsLines shows a DNS query (request tab) or its answer (response tab).
func dnsLines(d *decode.DNSInfo, answer bool) []dline {
	if !answer {
		return []dline{
			field("query", view.Sanitize(d.Name)),
			field("type", view.Sanitize(d.Type)),
			field("id", fmt.Sprintf("%d", d.ID)),
		}
	}
	if d.Rcode == "" {
		return []dline{{text: "no answer seen", kind: lineNote}}
	}
	out := []dline{field("rcode", view.Sanitize(d.Rcode))}
	for i, a := range d.Answers {
		label := ""
		if i == 0 {
			label = "answers"
		}
		out = append(out, field(label, view.Sanitize(a)))
	}
	return out
}

// requestLines is the request tab.
func requestLines(e *decode.Exchange, w, choice int) ([]dline, view.Kind) {
	req := e.Request
	if req == nil && e.DNS != nil {
		return dnsLines(e.DNS, false), view.Text
	}
	if req == nil {
		return []dline{{text: "no request was seen (the capture joined after it, or it was lost)", kind: lineNote}}, view.Text
	}
	var out []dline
	if e.DNS != nil {
		// A DNS query has no start line: its summary stands there, its
		// sections follow as parts.
		out = dnsLines(e.DNS, false)
	} else {
		start := strings.TrimSpace(req.Method + " " + req.Target + " " + req.Proto)
		out = append(out, wrapLine(view.Sanitize(start), lineStart, w)...)
	}
	if req.Masked {
		out = append(out, dline{text: "masked values are replaced; m shows them as captured", kind: lineNote})
	}
	out = append(out, headerLines(req.Headers, w)...)
	out = append(out, dline{})
	b, used := bodyLines(req, w, choice)
	out = append(out, b...)
	if len(req.Trailers) > 0 {
		out = append(out, dline{}, section("trailers", w))
		out = append(out, headerLines(req.Trailers, w)...)
	}
	return out, used
}

// responseLines is the response tab: interim responses, the final one,
// trailers and the gRPC status.
func responseLines(e *decode.Exchange, w, choice int) ([]dline, view.Kind) {
	var out []dline
	if e.Error != "" {
		out = append(out, wrapLine("error: "+view.Sanitize(e.Error), lineWarn, w)...)
	}
	for _, im := range e.Interim {
		out = append(out, wrapLine(statusLineOf(im), lineStart, w)...)
		out = append(out, headerLines(im.Headers, w)...)
		out = append(out, dline{})
	}
	resp := e.Response
	if resp == nil && e.DNS != nil {
		return append(out, dnsLines(e.DNS, true)...), view.Text
	}
	if resp == nil {
		msg := "no response yet"
		if e.State.Final() {
			msg = "no response (" + string(e.State) + ")"
		}
		return append(out, dline{text: msg, kind: lineNote}), view.Text
	}
	if e.DNS != nil {
		// No status line ("0") for DNS: the rcode stands there.
		out = append(out, dnsLines(e.DNS, true)[0])
	} else {
		out = append(out, wrapLine(statusLineOf(resp), lineStart, w)...)
	}
	if resp.Masked {
		out = append(out, dline{text: "masked values are replaced; m shows them as captured", kind: lineNote})
	}
	out = append(out, headerLines(resp.Headers, w)...)
	out = append(out, dline{})
	b, used := bodyLines(resp, w, choice)
	out = append(out, b...)
	if len(resp.Trailers) > 0 {
		out = append(out, dline{}, section("trailers", w))
		out = append(out, headerLines(resp.Trailers, w)...)
	}
	if g := e.GRPC; g != nil && g.Status >= 0 {
		out = append(out, dline{})
		txt := fmt.Sprintf("gRPC status %d %s", g.Status, grpcName(g.Status))
		if g.Message != "" {
			txt += ": " + view.Sanitize(g.Message)
		}
		kind := lineStart
		if g.Status != 0 {
			kind = lineWarn
		}
		out = append(out, wrapLine(txt, kind, w)...)
	}
	return out, used
}

func statusLineOf(m *decode.Message) string {
	return view.Sanitize(strings.TrimSpace(fmt.Sprintf("%s %d %s", m.Proto, m.Status, m.Reason)))
}

// grpcName is the canonical name of a gRPC status code.
func grpcName(code int) string {
	names := [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
		"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
		"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}
	if code >= 0 && code < len(names) {
		return names[code]
	}
	return "UNKNOWN_CODE"
}
