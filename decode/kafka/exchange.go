package kafka

import (
	"strconv"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
)

// topicRef is a topic as a message names it: by name, or by id.
type topicRef struct {
	name string
	id   [16]byte
	byID bool
}

// summary is what a request or response body says, for the exchange.
type summary struct {
	topics  []topicRef
	seen    map[topicRef]bool
	lines   []string
	headers []decode.Header
	stats   batchStats
	records bool // a records field was present (Produce request, Fetch response)

	errCode int16 // first non-zero error code
	errMsg  string
	errs    int // non-zero error codes seen

	secret     []byte // SASL auth bytes
	user       string
	noResponse bool // Produce with acks=0
	undecoded  bool // the body of this API/version is not decoded

	learnt []decode.TopicID // ids a Metadata or CreateTopics response named
}

// learn records a topic id the response names (bounded like topics).
func (s *summary) learn(id [16]byte, name string) {
	if id != ([16]byte{}) && name != "" && len(s.learnt) < maxArray {
		s.learnt = append(s.learnt, decode.TopicID{ID: id, Name: name})
	}
}

func (s *summary) topic(t topicRef) {
	if s.seen == nil {
		s.seen = map[topicRef]bool{}
	}
	if !s.seen[t] && len(s.topics) < maxArray {
		s.seen[t] = true
		s.topics = append(s.topics, t)
	}
}

func (s *summary) line(parts ...string) {
	if len(s.lines) < maxLines {
		s.lines = append(s.lines, strings.Join(parts, " "))
	} else if len(s.lines) == maxLines {
		s.lines = append(s.lines, "…")
	}
}

func (s *summary) header(name, value string) {
	s.headers = append(s.headers, decode.Header{Name: name, Value: value})
}

// code records an error code seen in a response.
func (s *summary) code(c int16) {
	if c == 0 {
		return
	}
	if s.errs == 0 {
		s.errCode = c
	}
	s.errs++
}

// maxLines bounds a body summary.
const maxLines = 2000

// frame handles one complete frame of dir; buf holds its first bytes
// (all of them unless the frame was longer than keep) and full its size
// with the prefix.
func (h *handler) frame(dir decode.Direction, s *side, buf []byte, full int, last time.Time) {
	cut := len(buf) < full
	if cut {
		h.note("large", "a message larger than "+strconv.Itoa(h.keep)+" bytes was summarised from its first bytes only")
	}
	if s.rawSASL {
		s.rawSASL = false
		h.rawToken(dir, buf, full, s.first, last)
		return
	}
	if dir == decode.ClientToServer {
		h.request(s, buf, full, cut, s.first, last)
		return
	}
	h.response(buf, full, cut, s.first, last)
}

// request decodes a client frame and publishes its pending exchange.
func (h *handler) request(s *side, buf []byte, full int, cut bool, first, last time.Time) {
	hd, v := peekHeader(buf)
	if v != decode.Yes {
		var ok bool
		if hd, ok = looseHeader(buf); !ok {
			h.note("request", "a client message is not a Kafka request; resynchronising")
			h.lose(s)
			return
		}
	}
	h.c.SetProto(Name)
	r := &reader{b: buf[4+hd.hlen:], flex: flexible(hd.key, hd.ver)}
	sum := &summary{}
	h.parseRequest(hd.key, hd.ver, r, sum)
	x := h.c.NewExchange(Name)
	x.Start, x.End = first, last
	x.Query = &decode.QueryInfo{Rows: -1, ClientID: hd.clientID}
	hdrs := []decode.Header{
		{Name: "Api-Version", Value: strconv.Itoa(int(hd.ver))},
		{Name: "Correlation-Id", Value: strconv.Itoa(int(hd.corr))},
	}
	hdrs = append(hdrs, sum.headers...)
	if sum.secret != nil {
		hdrs = append(hdrs, decode.Header{Name: "Password", Value: quoteSecret(sum.secret)})
		x.Query.User = sum.user
	}
	x.Request = h.message(first, last, full, hdrs, requestText(hd, sum))
	x.Request.Method = apiName(hd.key)
	x.Request.Target = h.target(sum.topics)
	if sum.records {
		x.Query.Rows, x.Query.Batches, x.Query.RecordBytes = sum.stats.records, sum.stats.batches, sum.stats.bytes
	}
	x.Error = h.parseNote(r, cut, sum)
	if hd.key == keySaslHandshake && hd.ver == 0 {
		s.rawSASL = true
	}
	if sum.noResponse {
		x.State = decode.Complete
		x.Error = joinErr(x.Error, "acks=0: the broker sends no response")
		h.c.Publish(x)
		return
	}
	p := &pending{x: x, key: hd.key, ver: hd.ver, req: sum}
	if old, dup := h.pending[hd.corr]; dup {
		delete(h.pending, hd.corr)
		h.finalize(old, decode.Orphan, "no response seen (correlation id reused)")
	}
	if len(h.pending) >= maxPending {
		h.evictOldest()
	}
	h.pending[hd.corr] = p
	h.order = append(h.order, hd.corr)
	h.c.Publish(x)
}

// looseHeader reads the header of a request detection would refuse (an
// api key or version this decoder does not know) on a connection
// already taken for Kafka, as header v1: the exchange shows the key and
// its correlation id so the response still pairs.
func looseHeader(buf []byte) (header, bool) {
	var h header
	if len(buf) < 14 {
		return h, false
	}
	h.key, h.ver, h.corr = int16(be16(buf[4:])), int16(be16(buf[6:])), int32(be32(buf[8:]))
	if h.key < 0 || h.ver < 0 {
		return h, false
	}
	n := int(int16(be16(buf[12:])))
	if n < -1 || 14+max(n, 0) > len(buf) {
		return h, false
	}
	if n > 0 {
		h.clientID = string(buf[14 : 14+n])
	}
	h.hlen = 10 + max(n, 0)
	return h, true
}

// evictOldest gives up the oldest request still awaiting its response.
func (h *handler) evictOldest() {
	for len(h.order) > 0 {
		corr := h.order[0]
		h.order = h.order[1:]
		if p, ok := h.pending[corr]; ok {
			delete(h.pending, corr)
			h.finalize(p, decode.Orphan, "no response seen (too many outstanding requests)")
			return
		}
	}
}

// forget drops corr from the request order once answered, compacting
// the order list when it is mostly dead.
func (h *handler) forget(corr int32) {
	delete(h.pending, corr)
	if len(h.order) > 0 && h.order[0] == corr {
		h.order = h.order[1:]
	}
	if len(h.order) > 2*maxPending || len(h.order) > 64 && len(h.pending) < len(h.order)/4 {
		kept := make([]int32, 0, len(h.pending))
		for _, c := range h.order {
			if _, ok := h.pending[c]; ok {
				kept = append(kept, c)
			}
		}
		h.order = kept
	}
}

// response decodes a server frame and completes its exchange.
func (h *handler) response(buf []byte, full int, cut bool, first, last time.Time) {
	if len(buf) < 8 {
		h.note("short", "a response too short for a correlation id")
		return
	}
	corr := int32(be32(buf[4:]))
	p, ok := h.pending[corr]
	if !ok {
		x := h.c.NewExchange(Name)
		x.Start, x.End = first, last
		x.Query = &decode.QueryInfo{Rows: -1}
		x.Response = h.message(first, last, full, []decode.Header{{Name: "Correlation-Id", Value: strconv.Itoa(int(corr))}},
			"response to a request not seen ("+strconv.Itoa(full-4)+" bytes)")
		x.State = decode.Orphan
		x.Error = "response without its request (correlation id " + strconv.Itoa(int(corr)) + ")"
		h.c.Publish(x)
		return
	}
	h.forget(corr)
	r := &reader{b: buf[8:]}
	if responseHeaderVersion(p.key, p.ver) == 1 {
		r.flex = true
		r.tags()
	}
	r.flex = flexible(p.key, p.ver)
	sum := &summary{}
	h.parseResponse(p.key, p.ver, r, sum)
	x := p.x
	x.End = last
	x.Response = h.message(first, last, full, append([]decode.Header{{Name: "Correlation-Id", Value: strconv.Itoa(int(corr))}}, sum.headers...),
		responseText(p.key, p.ver, sum))
	if sum.records {
		x.Query.Rows, x.Query.Batches, x.Query.RecordBytes = sum.stats.records, sum.stats.batches, sum.stats.bytes
	}
	if sum.errCode != 0 {
		x.Query.ErrorCode = strconv.Itoa(int(sum.errCode))
		x.Query.ReplyError = errorName(sum.errCode)
	}
	x.Query.TopicIDs = sum.learnt
	if p.key == keySaslHandshake && p.ver == 0 && sum.errs == 0 && r.err == nil {
		// The server's next frame is its bare SASL token.
		h.sides[decode.ServerToClient].rawSASL = true
	}
	x.Error = joinErr(x.Error, h.parseNote(r, cut, sum))
	x.State = decode.Complete
	if cut {
		x.State = decode.Partial
	}
	h.c.Publish(x)
}

// rawToken handles the bare SASL token that follows SaslHandshake v0:
// the client's is a secret, the server's completes the exchange.
func (h *handler) rawToken(dir decode.Direction, buf []byte, full int, first, last time.Time) {
	tok := buf[min(4, len(buf)):]
	if dir == decode.ClientToServer {
		x := h.c.NewExchange(Name)
		x.Start, x.End = first, last
		x.Query = &decode.QueryInfo{Rows: -1, User: saslUser(tok)}
		x.Request = h.message(first, last, full, []decode.Header{{Name: "Password", Value: quoteSecret(tok)}},
			"SASL token after SaslHandshake v0: <password>")
		x.Request.Method = apiName(keySaslAuthenticate)
		h.saslTok = &pending{x: x}
		h.c.Publish(x)
		return
	}
	p := h.saslTok
	if p == nil {
		return
	}
	h.saslTok = nil
	p.x.End = last
	p.x.Response = h.message(first, last, full, nil, "SASL token ("+strconv.Itoa(len(tok))+" bytes)")
	p.x.State = decode.Complete
	h.c.Publish(p.x)
}

// message builds one side: Body is the summary text (capped by
// MaxBody); BodySize and DecodedSize are the message's size on the wire
// without the size prefix, which is what lists and stats count.
func (h *handler) message(first, last time.Time, full int, hdrs []decode.Header, text string) *decode.Message {
	lim := h.c.Limits().WithDefaults()
	if len(text) > lim.MaxBody {
		text = text[:lim.MaxBody]
	}
	return &decode.Message{First: first, Last: last, Proto: "Kafka", Headers: hdrs, Body: []byte(text),
		BodySize: int64(full - 4), DecodedSize: int64(full - 4)}
}

// target joins topic names in the order sent, ids in Kafka's base64
// form (Namer names them where exchanges are published).
func (h *handler) target(ts []topicRef) string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteByte(',')
		}
		if !t.byID {
			b.WriteString(t.name)
			continue
		}
		b.WriteString(idString(t.id))
	}
	return b.String()
}

// parseNote says what stopped a body decode, "" when it went through.
func (h *handler) parseNote(r *reader, cut bool, sum *summary) string {
	switch {
	case sum.undecoded:
		return ""
	case cut:
		return "message larger than what is kept: summarised from its first " + strconv.Itoa(h.keep) + " bytes"
	case r.err != nil:
		return "kafka: malformed body: " + r.err.Error()
	}
	return ""
}

// quoteSecret renders secret bytes for the Password header: printable
// ASCII as is, the rest as \xNN (SASL PLAIN separates fields with NUL).
func quoteSecret(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f && c != '\\' {
			sb.WriteByte(c)
			continue
		}
		sb.WriteString(`\x`)
		sb.WriteByte("0123456789abcdef"[c>>4])
		sb.WriteByte("0123456789abcdef"[c&15])
	}
	return sb.String()
}

// saslUser finds the user name in a SASL PLAIN message
// (authzid NUL user NUL password) or a SCRAM client-first message
// ("n,,n=user,r=nonce"), "" otherwise.
func saslUser(b []byte) string {
	s := string(b)
	if parts := strings.Split(s, "\x00"); len(parts) == 3 {
		return parts[1]
	}
	if i := strings.Index(s, ",n="); i >= 0 && (strings.HasPrefix(s, "n,") || strings.HasPrefix(s, "y,") || strings.HasPrefix(s, "p=")) {
		u := s[i+3:]
		if j := strings.IndexByte(u, ','); j >= 0 {
			u = u[:j]
		}
		return u
	}
	return ""
}

// requestText is the request body summary: the API line, then the
// parser's lines.
func requestText(hd header, sum *summary) string {
	head := apiName(hd.key) + " v" + strconv.Itoa(int(hd.ver))
	if sum.undecoded {
		head += " (body not decoded)"
	}
	return strings.Join(append([]string{head}, sum.lines...), "\n")
}

// responseText is the response body summary.
func responseText(key, ver int16, sum *summary) string {
	head := apiName(key) + " v" + strconv.Itoa(int(ver)) + " response"
	if sum.errs > 0 {
		head += ": " + strconv.Itoa(sum.errs) + " error(s), first " + errorName(sum.errCode)
		if sum.errMsg != "" {
			head += " (" + sum.errMsg + ")"
		}
	}
	if sum.undecoded {
		head += " (body not decoded)"
	}
	return strings.Join(append([]string{head}, sum.lines...), "\n")
}
