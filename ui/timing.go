package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/view"
)

// Bar kinds of the timing waterfall.
const (
	lineBarReq lineKind = iota + 16
	lineBarWait
	lineBarResp
)

// field is one "label  value" line of the timing and flow tabs.
func field(label, value string) dline {
	return dline{text: fmt.Sprintf("%-10s %s", label, value), kind: lineHeader, split: 10}
}

const stampLayout = "15:04:05.000000"

// dateOf is the calendar day of t with its weekday and zone.
func dateOf(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02 Mon MST")
}

func stamp(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(loc).Format(stampLayout)
}

// timingLines is the timing tab: who talked, when each side started and
// ended, and a waterfall of request, wait and response.
func timingLines(e *decode.Exchange, linked *decode.Flow, loc *time.Location, w int) []dline {
	head := []string{fmt.Sprintf("#%d", e.ID), view.Sanitize(e.Proto)}
	if e.StreamID != 0 {
		head = append(head, fmt.Sprintf("stream %d", e.StreamID))
	}
	head = append(head, string(e.State))
	out := []dline{field("exchange", strings.Join(head, " · "))}
	out = append(out, field("source", view.Sanitize(e.Source)))
	out = append(out, field("client", e.Client.String()))
	server := e.Server.String()
	if e.TLS {
		server += " · TLS"
	}
	if e.SNI != "" {
		server += " · SNI " + view.Sanitize(e.SNI)
	}
	out = append(out, field("server", server))
	out = append(out, field("flow", fmt.Sprintf("#%d", e.FlowID)))
	out = append(out, meshLines(e.Leg, e.Direction, e.Linked, linked)...)
	if e.Pod != "" {
		out = append(out, field("pod", view.Sanitize(e.Namespace+"/"+e.Pod)))
	}
	if e.Error != "" {
		out = append(out, dline{text: "error      " + view.Sanitize(e.Error), kind: lineWarn})
	}
	if !e.Start.IsZero() {
		out = append(out, field("date", dateOf(e.Start, loc)))
	}
	out = append(out, dline{})
	req, resp := e.Request, e.Response
	if req != nil {
		out = append(out, field("request", span(req, loc)))
	}
	if resp != nil {
		out = append(out, field("response", span(resp, loc)))
	}
	if req != nil && resp != nil && !req.Last.IsZero() && !resp.First.IsZero() {
		out = append(out, field("waiting", humanDuration(resp.First.Sub(req.Last))+"  (first response byte after last request byte)"))
	}
	if lat := e.Latency(); lat > 0 {
		out = append(out, field("total", humanDuration(lat)))
	}
	if req != nil && resp != nil {
		out = append(out, dline{})
		out = append(out, waterfall(req, resp, w)...)
	}
	return out
}

func span(m *decode.Message, loc *time.Location) string {
	s := stamp(m.First, loc) + " → " + stamp(m.Last, loc)
	if d := m.Last.Sub(m.First); !m.First.IsZero() && !m.Last.IsZero() && d >= 0 {
		s += "  " + humanDuration(d)
	}
	return s + "  " + longBytes(m.BodySize) + " body"
}

// waterfall draws the three phases on one time axis.
func waterfall(req, resp *decode.Message, w int) []dline {
	t0, t1 := req.First, resp.Last
	if t0.IsZero() || t1.IsZero() || !t1.After(t0) {
		return nil
	}
	bar := max(w-11, 10)
	total := float64(t1.Sub(t0))
	cell := func(t time.Time) int {
		return min(int(float64(t.Sub(t0))/total*float64(bar)), bar-1)
	}
	draw := func(label string, from, to time.Time, ch string, kind lineKind) dline {
		a, b := cell(from), cell(to)
		b = max(b, a+1)
		return dline{text: fmt.Sprintf("%-10s %s%s", label, spaces(a), strings.Repeat(ch, b-a)), kind: kind, split: 10}
	}
	return []dline{
		draw("request", req.First, req.Last, "█", lineBarReq),
		draw("waiting", req.Last, resp.First, "░", lineBarWait),
		draw("response", resp.First, resp.Last, "█", lineBarResp),
	}
}

// rawLines is the raw tab. captured is the result of Config.Raw when it
// may be shown; otherwise the messages are reconstructed and the tab says
// so.
func rawLines(e *decode.Exchange, captured []byte, rawErr error, why string, w int) []dline {
	var out []dline
	if captured != nil {
		out = append(out, section(fmt.Sprintf("bytes as captured · %s", longBytes(int64(len(captured)))), w))
		for _, l := range view.HexDump(captured, w) {
			out = append(out, dline{text: l})
		}
		return out
	}
	if rawErr != nil {
		out = append(out, wrapLine("captured bytes unavailable: "+view.Sanitize(rawErr.Error()), lineWarn, w)...)
	}
	if why != "" {
		out = append(out, wrapLine(why, lineNote, w)...)
	}
	for _, side := range []struct {
		name string
		msg  *decode.Message
		req  bool
	}{{"request", e.Request, true}, {"response", e.Response, false}} {
		if side.msg == nil {
			continue
		}
		b := reconstruct(side.msg, side.req)
		out = append(out, section(fmt.Sprintf("%s · reconstructed · %s", side.name, longBytes(int64(len(b)))), w))
		for _, l := range view.HexDump(b, w) {
			out = append(out, dline{text: l})
		}
	}
	return out
}

// reconstruct renders a message in HTTP/1 form (start line, headers, blank
// line, body as transferred): what the peer would have sent over HTTP/1.
func reconstruct(m *decode.Message, req bool) []byte {
	var b strings.Builder
	if req {
		fmt.Fprintf(&b, "%s %s %s\r\n", m.Method, m.Target, m.Proto)
	} else {
		fmt.Fprintf(&b, "%s %d %s\r\n", m.Proto, m.Status, m.Reason)
	}
	for _, h := range m.Headers {
		b.WriteString(h.Name + ": " + h.Value + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(m.Body)
	return []byte(b.String())
}

// flowLines is the detail of a flow.
func flowLines(f *decode.Flow, loc *time.Location, w int) []dline {
	head := []string{fmt.Sprintf("#%d", f.ID), view.Sanitize(f.Transport)}
	if f.Proto != "" {
		head = append(head, view.Sanitize(f.Proto))
	}
	head = append(head, string(f.State))
	if f.Partial {
		head = append(head, "joined mid-stream")
	}
	out := []dline{field("flow", strings.Join(head, " · "))}
	out = append(out, field("source", view.Sanitize(f.Source)))
	out = append(out, field("client", f.Client.String()))
	out = append(out, field("server", f.Server.String()))
	out = append(out, meshLines(f.Leg, f.Direction, f.Linked, nil)...)
	if f.Pod != "" {
		out = append(out, field("pod", view.Sanitize(f.Namespace+"/"+f.Pod)))
	}
	if !f.First.IsZero() {
		// The stamps below are times of day; the lists show dates only
		// when a session spans days, so the detail always says which.
		out = append(out, field("date", dateOf(f.First, loc)))
	}
	out = append(out, field("first", stamp(f.First, loc)))
	last := stamp(f.Last, loc)
	if d := f.Last.Sub(f.First); d > 0 {
		last += "  (" + humanDuration(d) + ")"
	}
	out = append(out, field("last", last))
	out = append(out, field("packets", fmt.Sprintf("client→server %d · server→client %d", f.PacketsC2S, f.PacketsS2C)))
	out = append(out, field("bytes", fmt.Sprintf("client→server %s · server→client %s", longBytes(f.BytesC2S), longBytes(f.BytesS2C))))
	if t := f.TLS; t != nil {
		parts := []string{view.Sanitize(t.Version)}
		if t.SNI != "" {
			parts = append(parts, "SNI "+view.Sanitize(t.SNI))
		}
		if len(t.ALPN) > 0 {
			alpn := "ALPN " + view.Sanitize(strings.Join(t.ALPN, ","))
			if t.ALPNChosen != "" {
				alpn += " → " + view.Sanitize(t.ALPNChosen)
			}
			parts = append(parts, alpn)
		}
		if t.Cipher != "" {
			parts = append(parts, view.Sanitize(t.Cipher))
		}
		if t.Decrypted {
			parts = append(parts, "decrypted")
		}
		out = append(out, field("tls", strings.Join(parts, " · ")))
	} else if f.SNI != "" {
		out = append(out, field("tls", "SNI "+view.Sanitize(f.SNI)))
	}
	if f.Error != "" {
		out = append(out, wrapLine("error      "+view.Sanitize(f.Error), lineWarn, w)...)
	}
	out = append(out, field("captured", fmt.Sprintf("%d packets listed for export", len(f.Ordinals))))
	return out
}
