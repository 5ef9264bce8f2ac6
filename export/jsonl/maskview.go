package jsonl

import (
	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// maskInput is what the Mask function is given. A line without bodies
// (no Options.Bodies) prints header values, the target, sizes and errors
// but no body bytes, and masking a body is by far its most expensive
// part (a content-encoded body is inflated to be scanned), so the bodies
// are left out of the copy the masker sees: the printed line is the same
// and a large capture prints several times faster.
//
// One body is kept: when a content-encoded body claims a decoded size of
// 0, a masker that fails to decode it clears ContentEncoding, and that
// changes which size sizeField prints.
func maskInput(e *decode.Exchange, bodies bool) *decode.Exchange {
	if bodies || (!hasBody(e.Request) && !hasBody(e.Response)) {
		return e
	}
	c := *e
	c.Request = withoutBody(e.Request)
	c.Response = withoutBody(e.Response)
	return &c
}

func hasBody(m *decode.Message) bool { return m != nil && len(m.Body) > 0 }

func withoutBody(m *decode.Message) *decode.Message {
	if !hasBody(m) || m.DecodedSize == 0 && m.BodySize > 0 && body.NeedsDecoding(m.ContentEncoding) {
		return m
	}
	c := *m
	c.Body = nil
	return &c
}
