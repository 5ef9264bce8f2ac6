package streammask

import (
	"encoding/binary"
	"fmt"
	"testing"
)

const (
	kPass  = "Kf4pLain9Secret"
	kPass2 = "Kf7rawTok3nPw"
)

// kafkaReq builds a request frame: header v1 (v2 with an empty tagged
// field section when flex) and body.
func kafkaReq(key, ver int16, corr int32, client string, flex bool, body []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(ver))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len(client)))
	b = append(b, client...)
	if flex {
		b = append(b, 0)
	}
	b = append(b, body...)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

func kafkaFrame(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// TestKafkaSASLAtAnySegmentSize: SaslAuthenticate v2 (compact bytes) and
// v1 (int32 length) carrying PLAIN credentials, and the bare token after
// SaslHandshake v0, are overwritten however the stream is cut; the
// headers, client id, user-visible framing and the other requests stay.
func TestKafkaSASLAtAnySegmentSize(t *testing.T) {
	plain := "\x00alice\x00" + kPass
	v2 := kafkaReq(36, 2, 2, "tapview-producer", true, append(append([]byte{byte(len(plain) + 1)}, plain...), 0))
	v1 := kafkaReq(36, 1, 3, "other", false, append(binary.BigEndian.AppendUint32(nil, uint32(len(plain))), plain...))
	hs0 := kafkaReq(17, 0, 4, "old", false, append([]byte{0, 5}, "PLAIN"...))
	tok := kafkaFrame([]byte("\x00bob\x00" + kPass2))
	meta := kafkaReq(3, 1, 5, "old", false, []byte{0xff, 0xff, 0xff, 0xff})
	var c2s []byte
	for _, f := range [][]byte{kafkaReq(18, 3, 0, "tapview-producer", true, []byte{4, 'k', 'g', 'o', 2, '1', 0}), v2, v1, hs0, tok, meta} {
		c2s = append(c2s, f...)
	}
	s2c := kafkaFrame([]byte{0, 0, 0, 0, 0, 0})
	for _, mss := range []int{1, 3, 7, 20, 1460} {
		h := newHarness(t)
		h.open()
		h.send(0, c2s, mss)
		h.send(1, s2c, mss)
		h.close()
		st, _ := h.masked()
		what := fmt.Sprintf("mss %d", mss)
		mustHide(t, what, st[0], kPass, kPass2, "alice", "bob")
		mustKeep(t, what, st[0], "tapview-producer", "other", "PLAIN", string(meta))
		if len(st[0]) != len(c2s) {
			t.Fatalf("%s: the stream changed length", what)
		}
	}
}

// FuzzKafkaWalker walks arbitrary bytes after a real Kafka request (so
// the direction is taken for Kafka) cut into arbitrary segments: nothing
// may panic and the masked stream keeps its length.
func FuzzKafkaWalker(f *testing.F) {
	plain := "\x00u\x00" + kPass
	f.Add(append(binary.BigEndian.AppendUint32(nil, uint32(len(plain))), plain...), uint8(7))
	f.Add([]byte{0, 0, 0, 5, 0, 36, 0, 2}, uint8(1))
	f.Fuzz(func(t *testing.T, tail []byte, mss uint8) {
		start := kafkaReq(18, 3, 0, "fuzz", true, []byte{1, 1, 0})
		auth := kafkaReq(36, 1, 1, "fuzz", false, tail)
		c2s := append(append(start, auth...), tail...)
		h := newHarness(t)
		h.open()
		h.send(0, c2s, int(mss%64)+1)
		h.close()
		st, _ := h.masked()
		if len(st[0]) != len(c2s) {
			t.Fatalf("stream length %d, want %d", len(st[0]), len(c2s))
		}
	})
}
