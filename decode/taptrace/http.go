package taptrace

import (
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
	"github.com/tapview/tapview/decode/grpc"
	"github.com/tapview/tapview/sources"
)

// httpBuffered publishes one complete exchange from a buffered HTTP trace.
func (d *Decoder) httpBuffered(t *sources.Trace, h *tapv3.HttpBufferedTrace) {
	ex := d.newExchange(t)
	if dc := h.GetDownstreamConnection(); dc != nil {
		ex.Client, ex.Server = addrPort(dc.GetRemoteAddress()), addrPort(dc.GetLocalAddress())
	}
	if req := h.GetRequest(); req != nil {
		ex.Request = d.message(req.GetHeaders(), req.GetTrailers(), req.GetBody(), stamp(req.GetHeadersReceivedTime(), t.Arrival))
	}
	if resp := h.GetResponse(); resp != nil {
		ex.Response = d.message(resp.GetHeaders(), resp.GetTrailers(), resp.GetBody(), stamp(resp.GetHeadersReceivedTime(), t.Arrival))
	}
	if uc := h.GetUpstreamConnection(); uc != nil {
		ex.Upstream = addrPort(uc.GetRemoteAddress())
	}
	d.complete(ex, decode.Partial)
	d.out.Exchange(ex)
}

// newExchange starts an exchange of trace t.
func (d *Decoder) newExchange(t *sources.Trace) *decode.Exchange {
	d.stats.Exchanges++
	ex := &decode.Exchange{ID: d.nextID(), Source: traceSource(t), State: decode.Pending, Version: 1}
	ex.Namespace, ex.Pod = podOf(t.Node)
	return ex
}

// complete sets the exchange's protocol, gRPC facts, times and final
// state. missing is the state of an exchange with only one side: Partial
// when the trace is known to be over (buffered, or idle too long),
// Orphan when the input ended first.
func (d *Decoder) complete(ex *decode.Exchange, missing decode.ExchangeState) {
	req, resp := ex.Request, ex.Response
	ex.Proto = guessProto(req, resp)
	if ex.Proto == "grpc" {
		ex.GRPC = grpc.Info(req, resp)
		d.grpcParts(req, resp)
	}
	ex.Start, ex.End = times(req, resp)
	switch {
	case req != nil && resp != nil:
		ex.State = decode.Complete
	case req == nil && resp == nil:
		ex.State = decode.Partial
		ex.Error = "the tap trace holds neither request nor response"
	case req != nil:
		ex.State = missing
		ex.Error = "no response in the tap trace"
	default:
		ex.State = missing
		ex.Error = "no request in the tap trace"
	}
}

// message builds one side from Envoy's header list and body.
func (d *Decoder) message(hs, trailers []*corev3.HeaderValue, b *tapv3.Body, first time.Time) *decode.Message {
	m := &decode.Message{First: first, Last: first, Proto: "HTTP/2"}
	m.Headers = headers(hs)
	m.Trailers = headers(trailers)
	fillStart(m)
	if b != nil {
		d.appendBody(m, b)
	}
	d.finishBody(m)
	return m
}

// fillStart copies the pseudo headers (Envoy keeps HTTP/1 requests in
// that form too) into the start-line fields.
func fillStart(m *decode.Message) {
	host := ""
	pseudo := false
	for _, h := range m.Headers {
		if h.Name == "" || h.Name[0] != ':' {
			if host == "" && strings.EqualFold(h.Name, "host") {
				host = h.Value
			}
			continue
		}
		// Pseudo header names are lower case by definition (RFC 9113).
		switch h.Name {
		case ":method":
			m.Method, pseudo = h.Value, true
		case ":path":
			m.Target, pseudo = h.Value, true
		case ":authority":
			m.Host, pseudo = h.Value, true
		case ":scheme":
			m.Scheme, pseudo = h.Value, true
		case ":status":
			m.Status, _ = strconv.Atoi(h.Value)
			pseudo = true
		}
	}
	if m.Host == "" {
		m.Host = host
	}
	if !pseudo {
		m.Proto = "HTTP/1.1"
	}
}

// appendBody adds a body (or a streamed chunk) up to the body cap and
// returns how many bytes it kept.
func (d *Decoder) appendBody(m *decode.Message, b *tapv3.Body) int {
	data := BodyBytes(b)
	m.BodySize += int64(len(data))
	if b.GetTruncated() {
		m.Truncated = true
	}
	if room := d.lim.MaxBody - len(m.Body); room < len(data) {
		data = data[:max(room, 0)]
		m.Truncated = true
	}
	m.Body = append(m.Body, data...)
	return len(data)
}

// finishBody fills the content-coding facts once the body is whole.
func (d *Decoder) finishBody(m *decode.Message) {
	if cl, err := strconv.ParseInt(m.HeaderValue("content-length"), 10, 64); err == nil && cl > m.BodySize {
		m.BodySize = cl
		m.Truncated = true
	}
	m.ContentEncoding = body.Codings(m.HeaderValue("content-encoding"))
	m.DecodedSize = m.BodySize
	if body.NeedsDecoding(m.ContentEncoding) {
		n, err := d.body.DecodedSize(m.ContentEncoding, m.Body, d.lim.MaxDecoded)
		m.DecodedSize = n
		if err != nil {
			m.DecodedSize = -1
			m.DecodeError = err.Error()
		}
	}
}

// headers converts Envoy's header list, keeping order and duplicates;
// raw_value is used when value is empty.
func headers(hs []*corev3.HeaderValue) []decode.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]decode.Header, 0, len(hs))
	for _, h := range hs {
		v := h.GetValue()
		if v == "" && len(h.GetRawValue()) > 0 {
			v = string(h.GetRawValue())
		}
		out = append(out, decode.Header{Name: h.GetKey(), Value: v})
	}
	return out
}

// guessProto names the protocol from what the trace shows: gRPC by
// content type, HTTP/2 by pseudo headers. Envoy also gives HTTP/1
// requests pseudo headers, so "h2" means "Envoy's normalised form" unless
// the downstream connection was really HTTP/2; the trace does not say.
func guessProto(req, resp *decode.Message) string {
	for _, m := range []*decode.Message{req, resp} {
		if m != nil && grpc.IsContentType(m.HeaderValue("content-type")) {
			return grpc.Name
		}
	}
	for _, m := range []*decode.Message{req, resp} {
		if m != nil && m.Proto == "HTTP/2" {
			return "h2"
		}
	}
	return "http/1.1"
}

// times returns the first and last known times of an exchange.
func times(req, resp *decode.Message) (start, end time.Time) {
	for _, m := range []*decode.Message{req, resp} {
		if m == nil {
			continue
		}
		if start.IsZero() || (!m.First.IsZero() && m.First.Before(start)) {
			start = m.First
		}
		if m.Last.After(end) {
			end = m.Last
		}
	}
	return start, end
}

// grpcParts splits both bodies into gRPC length-prefixed messages,
// decompressing them with the side's grpc-encoding; a last message cut by
// the tap's body limit is kept with Truncated set.
func (d *Decoder) grpcParts(req, resp *decode.Message) {
	for _, m := range []*decode.Message{req, resp} {
		if m == nil || len(m.Body) == 0 || m.Parts != nil {
			continue
		}
		sp := grpc.NewSplitter(m.HeaderValue("grpc-encoding"), d.lim, d.body)
		m.Parts = sp.Flush(sp.Write(nil, m.Body, m.First))
	}
}
