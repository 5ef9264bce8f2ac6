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
func maskInput(e *decode.Exchange, bodies bool, sc *maskScratch) *decode.Exchange {
	if bodies || (!hasBody(e.Request) && !hasBody(e.Response)) {
		return e
	}
	sc.e = *e
	sc.e.Request = withoutBody(e.Request, &sc.req)
	sc.e.Response = withoutBody(e.Response, &sc.resp)
	return &sc.e
}

// maskScratch holds the body-less copies given to the masker; the Writer
// reuses it for every exchange (under its lock), so the copies cost no
// allocation. The masker returns either them or its own copies, and
// nothing of them is kept once the line is written.
type maskScratch struct {
	e         decode.Exchange
	req, resp decode.Message
}

func hasBody(m *decode.Message) bool { return m != nil && len(m.Body) > 0 }

func withoutBody(m *decode.Message, into *decode.Message) *decode.Message {
	if !hasBody(m) || m.DecodedSize == 0 && m.BodySize > 0 && body.NeedsDecoding(m.ContentEncoding) {
		return m
	}
	*into = *m
	into.Body = nil
	return into
}
