package jsonl

import (
	"encoding/base64"
	"unicode/utf8"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// MaxBodyText caps the decoded body text written per message with
// Options.Bodies, so one huge download cannot produce a gigabyte line.
const MaxBodyText = 1 << 20

// appendBodies adds req_body / resp_body (decoded, as text when it is
// UTF-8, else base64 with *_body_encoding "base64") and gRPC/WebSocket
// parts. Masked copies already hold decoded, masked bodies.
func appendBodies(b []byte, e *decode.Exchange) []byte {
	b = appendBody(b, "req_body", e.Request)
	return appendBody(b, "resp_body", e.Response)
}

func appendBody(b []byte, key string, m *decode.Message) []byte {
	if m == nil {
		return b
	}
	if len(m.Body) > 0 {
		data, err := body.Decode(m.ContentEncoding, m.Body, MaxBodyText)
		if len(data) > MaxBodyText {
			data = data[:MaxBodyText]
		}
		b = appendData(b, key, data)
		if err != nil {
			b = str(b, key+"_error", err.Error())
		}
	}
	if len(m.Parts) > 0 {
		b = append(b, ',', '"')
		b = append(b, key...)
		b = append(b, `_parts":[`...)
		for i, p := range m.Parts {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"kind":`...)
			b = quote(b, p.Kind)
			if p.FromClient {
				b = append(b, `,"from_client":true`...)
			}
			b = appendData(b, "data", p.Data)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return b
}

func appendData(b []byte, key string, data []byte) []byte {
	if utf8.Valid(data) {
		return str(b, key, string(data))
	}
	b = str(b, key, base64.StdEncoding.EncodeToString(data))
	return str(b, key+"_encoding", "base64")
}
