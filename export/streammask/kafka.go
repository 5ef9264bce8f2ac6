package streammask

import (
	"encoding/binary"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/kafka"
)

// Kafka request walking bounds.
const (
	// kafkaHold is how much of a request's start is kept to find its
	// header and the length of SaslAuthenticate's auth bytes; a header
	// longer than that (a client id near 32 KB) has the whole frame
	// overwritten if it could be an authentication.
	kafkaHold = 64 << 10
	// kafkaMaxFrame is the largest size prefix taken for a request; a
	// larger one means the framing was lost.
	kafkaMaxFrame = 256 << 20
	// kafkaProbe bounds the bytes held to decide a direction is Kafka
	// (size, api key and version, correlation id, a client id of up to
	// 512 bytes).
	kafkaProbe = 1024
)

// kafkaReqs walks the client direction of a Kafka connection, frame by
// frame: the auth bytes of SaslAuthenticate requests (SASL PLAIN
// passwords, SCRAM messages) and the bare token after a SaslHandshake v0
// are overwritten with '*', wherever the segments cut them; everything
// is also scanned raw with the masker's patterns. A gap or a framing
// error leaves the rest to the raw scan alone.
type kafkaReqs struct {
	sd      *side
	raw     raw
	lost    bool
	head    []byte // the first bytes of the current frame
	at      int64  // stream offset of the frame's size prefix
	want    int64  // frame length with the prefix, 0 until known
	got     int64
	decided bool // the frame's secret, if any, was found and patched
	rawNext bool // the next frame is a bare SASL token
}

func newKafkaReqs(sd *side) *kafkaReqs { return &kafkaReqs{sd: sd, raw: raw{sd: sd}} }

// decideKafka takes a direction that starts with a Kafka request for
// the client; its peer's responses are scanned raw.
func decideKafka(sd *side, p []byte, final bool) (l layer, wait bool) {
	switch kafka.DetectRequest(p) {
	case decode.Yes:
		sd.c.client = sd.idx
		peer := sd.peerOrNew()
		peer.setIfUndecided(&raw{sd: peer})
		return newKafkaReqs(sd), false
	case decode.NeedMore:
		// A header with a long client id may need more than probeLen.
		return nil, !final && len(p) < kafkaProbe
	}
	return nil, false
}

func (k *kafkaReqs) data(off int64, b []byte) {
	k.raw.data(off, b)
	for len(b) > 0 && !k.lost {
		n := k.step(off, b)
		off += int64(n)
		b = b[n:]
	}
}

// step consumes a prefix of b (at stream offset off) and returns its
// length.
func (k *kafkaReqs) step(off int64, b []byte) int {
	if k.got == 0 {
		k.at, k.head, k.decided = off, k.head[:0], false
	}
	if k.want == 0 {
		n := min(4-len(k.head), len(b))
		k.head = append(k.head, b[:n]...)
		k.got += int64(n)
		if len(k.head) < 4 {
			return n
		}
		size := int64(int32(binary.BigEndian.Uint32(k.head)))
		if size < 0 || size > kafkaMaxFrame {
			k.lost = true
			return n
		}
		k.want = size + 4
		if k.rawNext {
			k.rawNext, k.decided = false, true
			k.fill(4, k.want-4)
		}
		k.finishFrame()
		return n
	}
	take := int(min(k.want-k.got, int64(len(b))))
	if !k.decided {
		k.head = append(k.head, b[:min(take, kafkaHold-len(k.head))]...)
		k.got += int64(take)
		k.decide()
	} else {
		k.got += int64(take)
	}
	k.finishFrame()
	return take
}

// decide looks for the frame's secret once enough of its head is held.
func (k *kafkaReqs) decide() {
	s := kafka.FindClientSecret(k.head, int(k.want))
	if s.More && len(k.head) < kafkaHold && k.got < k.want {
		return
	}
	k.decided = true
	switch {
	case s.More:
		// The header did not fit what is held: overwrite the frame.
		k.fill(4, k.want-4)
	case s.N > 0:
		k.fill(int64(s.Off), int64(s.N))
	}
	k.rawNext = s.RawNext
}

// fill overwrites n bytes at frame offset from.
func (k *kafkaReqs) fill(from, n int64) {
	k.sd.emit(Patch{Off: k.at + from, Len: n, Kind: KindFill, Byte: '*'})
}

func (k *kafkaReqs) finishFrame() {
	if k.want > 0 && k.got >= k.want {
		k.got, k.want = 0, 0
	}
}

func (k *kafkaReqs) gap() {
	k.raw.gap()
	k.lost = true
}

func (k *kafkaReqs) end() { k.raw.end() }
