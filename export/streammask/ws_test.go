package streammask

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

func wsFrame(fin, rsv1 bool, op byte, key []byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	out := []byte{b0}
	m := byte(0)
	if key != nil {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, m|byte(n))
	case n < 1<<16:
		out = append(out, m|126, byte(n>>8), byte(n))
	default:
		out = append(out, m|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if key == nil {
		return append(out, payload...)
	}
	out = append(out, key...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

type deflater struct {
	buf bytes.Buffer
	w   *flate.Writer
}

func newDeflater() *deflater {
	d := &deflater{}
	d.w, _ = flate.NewWriter(&d.buf, flate.BestCompression)
	return d
}

func (d *deflater) msg(s string) []byte {
	d.buf.Reset()
	d.w.Write([]byte(s))
	d.w.Flush()
	return bytes.TrimSuffix(bytes.Clone(d.buf.Bytes()), []byte{0, 0, 0xff, 0xff})
}

// wsMessages parses a direction's frames after the handshake and
// returns each message unmasked and inflated (with context takeover).
func wsMessages(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	var msg []byte
	compressed := false
	var window []byte
	for len(b) > 0 {
		if len(b) < 2 {
			t.Fatalf("frame header cut: %q", b)
		}
		fin, rsv1, op := b[0]&0x80 != 0, b[0]&0x40 != 0, b[0]&0x0f
		masked, n := b[1]&0x80 != 0, int(b[1]&0x7f)
		k := 2
		switch n {
		case 126:
			n, k = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			n, k = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		var key []byte
		if masked {
			key = b[k : k+4]
			k += 4
		}
		p := bytes.Clone(b[k : k+n])
		for i := range p {
			if key != nil {
				p[i] ^= key[i%4]
			}
		}
		b = b[k+n:]
		if op >= 8 {
			out = append(out, fmt.Sprintf("control %d: %q", op, p))
			continue
		}
		if op != 0 {
			compressed = rsv1
		}
		msg = append(msg, p...)
		if !fin {
			continue
		}
		if compressed {
			plain := inflateMessage(t, msg, window)
			window = append(window, plain...)
			msg = plain
		}
		out = append(out, string(msg))
		msg = nil
	}
	return out
}

func TestWebSocketMaskedFragmentedAndDeflated(t *testing.T) {
	up := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
	ok := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
	k1, k2, k3 := []byte{0x37, 0xa1, 0x5c, 0x02}, []byte{0x9e, 0x13, 0x77, 0xc8}, []byte{1, 2, 3, 4}
	var client []byte
	client = append(client, wsFrame(true, false, 1, k1, []byte(`{"token":"`+sToken+`"}`))...)
	client = append(client, wsFrame(false, false, 1, k2, []byte(`{"api_key":"`+sQuery[:5]))...)
	client = append(client, wsFrame(true, false, 9, k3, []byte("ping"))...) // a control frame inside a message
	client = append(client, wsFrame(true, false, 0, k1, []byte(sQuery[5:]+`"}`))...)
	z := newDeflater()
	client = append(client, wsFrame(true, true, 1, k2, z.msg(`{"hello":"world"}`))...)
	client = append(client, wsFrame(true, true, 1, k3, z.msg(`{"password":"`+sPass+`"}`))...)
	client = append(client, wsFrame(true, true, 1, k1, z.msg(`{"again":"`+sPass+`","after":"ok"}`))...)
	client = append(client, wsFrame(true, true, 1, k2, z.msg(`{"hello":"world","n":3}`))...)
	client = append(client, wsFrame(true, false, 8, k3, append([]byte{3, 0xe8}, "token="+sToken...))...)
	zs := newDeflater()
	var server []byte
	server = append(server, wsFrame(true, true, 1, nil, zs.msg(`{"session_token":"`+sBearer+`"}`))...)
	server = append(server, wsFrame(true, false, 1, nil, []byte(`{"refresh_token":"`+sCookie+`"}`))...)
	for _, mss := range []int{1, 5, 1460} {
		h := newHarness(t)
		h.open()
		h.send(0, []byte(up), mss)
		h.send(1, []byte(ok), mss)
		h.send(0, client, mss)
		h.send(1, server, mss)
		h.close()
		st, covered := h.masked()
		what := fmt.Sprintf("mss %d", mss)
		cm := wsMessages(t, st[0][len(up):])
		sm := wsMessages(t, st[1][len(ok):])
		all := []byte(strings.Join(append(cm, sm...), "\n"))
		mustHide(t, what, all, sToken, sQuery, sPass, sBearer, sCookie)
		mustHide(t, what+" raw", append(st[0], st[1]...), sToken, sQuery, sPass, sBearer, sCookie)
		mustKeep(t, what, all, `{"token":"****************"}`, `{"api_key":"****************"}`, `control 9: "ping"`,
			`{"hello":"world"}`, `{"hello":"world","n":3}`, `{"refresh_token":"`, "token=****")
		if !covered {
			t.Errorf("%s: not covered", what)
		}
		if mss == 1460 {
			t.Logf("client messages: %q\nserver messages: %q", cm, sm)
		}
	}
}
