// Package kafka decodes the Apache Kafka wire protocol into exchanges: one
// Exchange with Proto "kafka" per request and its response, matched by
// correlation id (clients pipeline requests, and a broker may answer them
// in any order across its connections; on one connection the id alone
// decides).
//
// Layout of a Kafka exchange:
//   - Request.Method is the API name ("Produce", "Fetch", "Metadata"; an
//     unknown key reads "ApiKey(N)"), Request.Target the topics the
//     request names, comma-joined in the order sent. Topics named by id
//     (Fetch v13+, Produce v13, OffsetCommit/OffsetFetch v10) are shown as
//     the id in Kafka's base64 form ("id:" and the id in bodies) until a
//     Namer, where exchanges are published, names them from the Metadata
//     and CreateTopics responses published before (Query.TopicIDs).
//   - Request headers "Api-Version" and "Correlation-Id" (and
//     "Transactional-Id", "Group", "Acks", "Mechanism" where the API has
//     them); Response header "Correlation-Id". Bodies are readable
//     summaries, one line per topic/partition, never raw record data;
//     BodySize (and DecodedSize) is the message's size on the wire
//     without its 4-byte size prefix, which lists and stats count.
//   - Exchange.Query: ClientID from the request header; Rows, Batches and
//     RecordBytes count the record batches of Produce requests and Fetch
//     responses (record counts come from the batch headers, so compressed
//     batches need no inflating); ErrorCode and ReplyError are the first
//     non-zero error code of the response and its name
//     ("UNKNOWN_TOPIC_OR_PARTITION").
//   - SaslAuthenticate's auth bytes (PLAIN password, SCRAM messages) and
//     the raw token after SaslHandshake v0 are secrets: they appear only
//     in the Request header "Password"; the body says "<password>".
//
// Detection is by content: a client's first bytes must be a size-prefixed
// request whose api key is known, whose version is within reach of the
// known ones, whose client id is a non-empty printable string and whose
// first body fields are in range (acks, topic names, wait times; HTTP,
// TLS, HTTP/2, RESP, PostgreSQL and MySQL openings all fail these).
// Frames up to maxKeep bytes are decoded whole; larger ones keep their
// first maxKeep bytes (summaries count what those hold, with a note), and
// sizes past maxFrame mean the framing is lost: decoding resumes at the
// next segment that starts like a request.
package kafka

import (
	"encoding/base64"

	"github.com/tapview/tapview/decode"
)

// Name is the protocol name of flows and exchanges this package decodes.
const Name = "kafka"

// Parser is the Kafka decode.Parser. It holds no state; every
// connection gets its own handler. Topic ids are left unnamed here (see
// Namer).
type Parser struct{}

// New returns the Kafka parser for tcp.Config.Parsers.
func New() *Parser { return &Parser{} }

var _ decode.Parser = (*Parser)(nil)

// Name implements decode.Parser.
func (*Parser) Name() string { return Name }

// Detect implements decode.Parser: first must start with a Kafka request
// (in either direction: a connection joined late may show the client as
// the server, which the handler corrects).
func (*Parser) Detect(_ *decode.Flow, _ decode.Direction, first []byte) decode.Verdict {
	return detectRequest(first)
}

// New implements decode.Parser.
func (*Parser) New(c decode.Conn) decode.StreamHandler { return newHandler(c) }

// Frame bounds.
const (
	// maxFrame is the largest size prefix taken for Kafka (brokers
	// refuse requests over socket.request.max.bytes, 100 MB by default;
	// a consumer's fetch.max.bytes is 50 MB).
	maxFrame = 256 << 20
	// minKeep is the least of a frame kept to be decoded, whatever the
	// body cap.
	minKeep = 1 << 20
	// maxPending bounds requests awaiting their response per connection.
	maxPending = 1024
	// maxClientID bounds a plausible client id at detection.
	maxClientID = 512
)

// detectRequest decides whether p starts with a Kafka request: size,
// api key, version, correlation id, client id.
func detectRequest(p []byte) decode.Verdict {
	if len(p) < 4 {
		if len(p) > 0 && p[0] != 0 {
			return decode.No // a size over 16 MB: text protocols land here
		}
		return decode.NeedMore
	}
	h, v := peekHeader(p)
	if v != decode.Yes {
		return v
	}
	if h.size > 16<<20 || h.clientID == "" {
		// Clients send a client id (kgo, librdkafka, the Java client and
		// sarama all default to one); a missing one is the mark of other
		// binary protocols' bytes more often than of a Kafka client.
		return decode.No
	}
	if !plausibleBody(h.key, h.ver, p[4+h.hlen:min(len(p), 4+h.size)]) {
		return decode.No
	}
	return decode.Yes
}

// header is a parsed request header.
type header struct {
	size     int // frame size without the 4-byte prefix
	key, ver int16
	corr     int32
	clientID string
	hlen     int // header bytes after the size prefix
}

// peekHeader parses the request header at the start of p (which begins
// with the size prefix) and says whether it is plausible.
func peekHeader(p []byte) (header, decode.Verdict) {
	var h header
	if len(p) < 4 {
		return h, decode.NeedMore
	}
	size := int64(int32(be32(p)))
	if size < 8 || size > maxFrame {
		return h, decode.No
	}
	h.size = int(size)
	if len(p) < 8 {
		return h, decode.NeedMore
	}
	h.key, h.ver = int16(be16(p[4:])), int16(be16(p[6:]))
	if !knownKey(h.key) || h.ver < 0 || h.ver > apis[h.key].maxKnown+slackVersions {
		return h, decode.No
	}
	hv := requestHeaderVersion(h.key, h.ver)
	if hv == 0 {
		if len(p) < 12 {
			return h, decode.NeedMore
		}
		h.corr, h.hlen = int32(be32(p[8:])), 8
		return h, decode.Yes
	}
	if len(p) < 14 {
		return h, decode.NeedMore
	}
	h.corr = int32(be32(p[8:]))
	n := int(int16(be16(p[12:])))
	if n < -1 || n > maxClientID || 10+max(n, 0) > h.size {
		return h, decode.No
	}
	if n > 0 {
		if len(p) < 14+n {
			return h, decode.NeedMore
		}
		for _, c := range p[14 : 14+n] {
			if c < 0x20 || c > 0x7e {
				return h, decode.No
			}
		}
		h.clientID = string(p[14 : 14+n])
	}
	h.hlen = 10 + max(n, 0)
	if hv == 2 {
		// Tagged fields: a count that must fit the frame.
		if len(p) < 14+max(n, 0)+1 {
			return h, decode.NeedMore
		}
		r := reader{b: p[4 : 4+min(h.size, len(p)-4)], off: h.hlen, flex: true}
		r.tags()
		if r.err != nil {
			if len(p)-4 < h.size {
				return h, decode.NeedMore
			}
			return h, decode.No
		}
		h.hlen = r.off
	}
	return h, decode.Yes
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// idString is a topic id as Kafka prints it: URL-safe base64, no padding.
func idString(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }
