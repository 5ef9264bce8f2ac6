package taptrace

import (
	"strconv"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

// publishEvery throttles republishing an exchange while body chunks of a
// streamed trace arrive; headers and the final state always publish.
const publishEvery = 250 * time.Millisecond

// streamedHTTP is an exchange being merged from streamed segments.
type streamedHTTP struct {
	ex      *decode.Exchange
	lastPub time.Time
}

// httpSegment merges one streamed HTTP segment into its exchange. Envoy
// marks no end of stream, so the exchange is final at response trailers,
// when the response body is complete by its framing (Content-Length,
// 204/304, HEAD, gRPC trailers-only), after IdleTimeout, or at Flush.
func (d *Decoder) httpSegment(t *sources.Trace, seg *tapv3.HttpStreamedTraceSegment) {
	if seg.GetMessagePiece() == nil {
		d.stats.Empty++
		return
	}
	id := seg.GetTraceId()
	if id == 0 {
		id = t.TraceID
	}
	en := d.lookup(key{source: t.Source, node: t.Node, id: id}, t.Arrival, true)
	if en.http == nil {
		en.http = &streamedHTTP{ex: d.newExchange(t)}
	}
	s := en.http
	ex := s.ex
	side := func(m **decode.Message) *decode.Message {
		if *m == nil {
			*m = &decode.Message{First: t.Arrival, Proto: "HTTP/2"}
		}
		if t.Arrival.After((*m).Last) {
			(*m).Last = t.Arrival
		}
		return *m
	}
	setHeaders := func(m *decode.Message, hm *corev3.HeaderMap) {
		m.Headers = append(m.Headers, headers(hm.GetHeaders())...)
		fillStart(m)
	}
	publish, final := true, false
	switch p := seg.GetMessagePiece().(type) {
	case *tapv3.HttpStreamedTraceSegment_RequestHeaders:
		setHeaders(side(&ex.Request), p.RequestHeaders)
	case *tapv3.HttpStreamedTraceSegment_RequestBodyChunk:
		d.held(en, d.appendBody(side(&ex.Request), p.RequestBodyChunk))
		publish = t.Arrival.Sub(s.lastPub) >= publishEvery
	case *tapv3.HttpStreamedTraceSegment_RequestTrailers:
		m := side(&ex.Request)
		m.Trailers = append(m.Trailers, headers(p.RequestTrailers.GetHeaders())...)
	case *tapv3.HttpStreamedTraceSegment_ResponseHeaders:
		m := side(&ex.Response)
		setHeaders(m, p.ResponseHeaders)
		final = responseDone(ex.Request, m)
	case *tapv3.HttpStreamedTraceSegment_ResponseBodyChunk:
		m := side(&ex.Response)
		d.held(en, d.appendBody(m, p.ResponseBodyChunk))
		final = responseDone(ex.Request, m)
		publish = t.Arrival.Sub(s.lastPub) >= publishEvery
	case *tapv3.HttpStreamedTraceSegment_ResponseTrailers:
		m := side(&ex.Response)
		m.Trailers = append(m.Trailers, headers(p.ResponseTrailers.GetHeaders())...)
		final = true
	default:
		publish = false
	}
	if final {
		d.finish(en, decode.FlowClosed)
		return
	}
	if publish {
		s.lastPub = t.Arrival
		d.publishPending(ex)
	}
}

// responseDone reports whether a streamed response is complete by its own
// framing, so the exchange need not wait for the idle timeout.
func responseDone(req, resp *decode.Message) bool {
	if resp.Status == 0 {
		return false
	}
	if resp.Status == 204 || resp.Status == 304 || (resp.Status >= 100 && resp.Status < 200 && resp.Status != 101) {
		return true
	}
	if req != nil && req.Method == "HEAD" {
		return true
	}
	if resp.HeaderValue("grpc-status") != "" {
		return true // trailers-only gRPC response
	}
	if cl, err := strconv.ParseInt(resp.HeaderValue("content-length"), 10, 64); err == nil {
		return resp.BodySize >= cl
	}
	return false
}

// publishPending publishes a snapshot of a streamed exchange that may
// still change. Messages are copied so later merges never touch what
// readers hold; body bytes are only ever appended.
func (d *Decoder) publishPending(ex *decode.Exchange) {
	ex.Proto = guessProto(ex.Request, ex.Response)
	ex.Start, ex.End = times(ex.Request, ex.Response)
	ex.Version++
	c := *ex
	if ex.Request != nil {
		m := *ex.Request
		c.Request = &m
	}
	if ex.Response != nil {
		m := *ex.Response
		c.Response = &m
	}
	d.out.Exchange(&c)
}

// finishHTTP publishes a streamed exchange in its final state. idle marks
// one ended by the idle timeout or eviction rather than the end of input.
func (d *Decoder) finishHTTP(s *streamedHTTP, idle bool) {
	ex := s.ex
	for _, m := range []*decode.Message{ex.Request, ex.Response} {
		if m != nil {
			d.finishBody(m)
		}
	}
	missing := decode.Orphan
	if idle {
		missing = decode.Partial
	}
	d.complete(ex, missing)
	ex.Version++
	d.out.Exchange(ex)
}
