package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/gorilla/websocket"
)

// WebSocket: masked client frames and permessage-deflate messages.

func runWS() error {
	ln, err := listen(portWS)
	if err != nil {
		return err
	}
	up := websocket.Upgrader{EnableCompression: true}
	done := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			done <- err
			return
		}
		defer ws.Close()
		for i := 0; i < 2; i++ {
			if _, _, err := ws.ReadMessage(); err != nil {
				done <- err
				return
			}
		}
		ws.EnableWriteCompression(true)
		ws.WriteMessage(websocket.TextMessage, []byte(`{"event":"login","session_token":"`+wsSrvDefl+`","pad":"`+strings.Repeat("z", 64)+`"}`))
		ws.EnableWriteCompression(false)
		ws.WriteMessage(websocket.TextMessage, []byte(`{"refresh_token":"`+wsSrvPlain+`"}`))
		_, _, err = ws.ReadMessage() // the client's close
		done <- nil
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	d := websocket.Dialer{EnableCompression: true}
	ws, _, err := d.Dial(fmt.Sprintf("ws://127.0.0.1:%d/ws", portWS), nil)
	if err != nil {
		return err
	}
	ws.EnableWriteCompression(false)
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"token":"`+wsMasked+`"}`)); err != nil {
		return err
	}
	pause()
	ws.EnableWriteCompression(true)
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"user":"bob","password":"`+wsCliDefl+`","pad":"`+strings.Repeat("y", 64)+`"}`)); err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		if _, _, err := ws.ReadMessage(); err != nil {
			return err
		}
	}
	ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
	pause()
	ws.Close()
	return <-done
}

// ---- WebSocket (our own frames, context takeover) ----

// wsFrame encodes one frame; a non-nil key masks it.
func wsFrame(fin, rsv1 bool, op byte, key []byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	out := []byte{b0}
	mbit := byte(0)
	if key != nil {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, mbit|byte(n))
	case n < 1<<16:
		out = append(out, mbit|126, byte(n>>8), byte(n))
	default:
		out = append(out, mbit|127)
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

// deflater compresses messages of one direction with context takeover:
// one flate stream, sync-flushed per message, the trailing 00 00 ff ff
// removed (RFC 7692).
type deflater struct {
	buf bytes.Buffer
	w   *flate.Writer
}

func newDeflater() *deflater {
	d := &deflater{}
	d.w, _ = flate.NewWriter(&d.buf, flate.DefaultCompression)
	return d
}

func (d *deflater) message(s string) []byte {
	d.buf.Reset()
	d.w.Write([]byte(s))
	d.w.Flush()
	return bytes.TrimSuffix(bytes.Clone(d.buf.Bytes()), []byte{0, 0, 0xff, 0xff})
}

// readWSFrame reads one frame and returns its opcode.
func readWSFrame(r *bufio.Reader) (byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, err
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var x [2]byte
		io.ReadFull(r, x[:])
		n = int(binary.BigEndian.Uint16(x[:]))
	case 127:
		var x [8]byte
		io.ReadFull(r, x[:])
		n = int(binary.BigEndian.Uint64(x[:]))
	}
	if h[1]&0x80 != 0 {
		n += 4
	}
	_, err := io.CopyN(io.Discard, r, int64(n))
	return h[0] & 0x0f, err
}

func runWSRaw() error {
	ln, err := listen(portWSRaw)
	if err != nil {
		return err
	}
	const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.(*net.TCPConn).SetNoDelay(true)
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			done <- err
			return
		}
		sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + guid))
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: "+base64.StdEncoding.EncodeToString(sum[:])+"\r\n"+
			"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
		// The client's fragmented message (2 frames) and its three
		// compressed messages.
		for i := 0; i < 5; i++ {
			if _, err := readWSFrame(br); err != nil {
				done <- err
				return
			}
		}
		z := newDeflater()
		pieces(c, string(wsFrame(true, true, 1, nil, z.message(`{"event":"login","session_token":"`+wsrSrvTake+`"}`))))
		pieces(c, string(wsFrame(true, true, 1, nil, z.message(`{"event":"refresh","session_token":"`+wsrSrvTake+`","n":2}`))))
		if op, err := readWSFrame(br); err != nil || op != 8 {
			done <- fmt.Errorf("expected close, got %d, %v", op, err)
			return
		}
		pieces(c, string(wsFrame(true, false, 8, nil, []byte{0x03, 0xe8})))
		done <- nil
	}()
	defer ln.Close()

	c, err := dial(portWSRaw)
	if err != nil {
		return err
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if err := pieces(c, fmt.Sprintf("GET /chat HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", portWSRaw)); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		return err
	}
	if resp.StatusCode != 101 {
		return fmt.Errorf("upgrade: %s", resp.Status)
	}
	// One text message in two masked fragments, the key split between
	// them, the first fragment itself in two segments.
	first := `{"api_key":"` + wsrFrag[:7]
	f1 := wsFrame(false, false, 1, []byte{0x37, 0xa1, 0x5c, 0x02}, []byte(first))
	f2 := wsFrame(true, false, 0, []byte{0x9e, 0x13, 0x77, 0xc8}, []byte(wsrFrag[7:]+`"}`))
	if err := pieces(c, string(f1[:len(f1)-4]), string(f1[len(f1)-4:]), string(f2)); err != nil {
		return err
	}
	// Three compressed messages on one deflate stream: the password is
	// sent, then repeated (a back-reference to the first).
	z := newDeflater()
	for i, m := range []string{
		`{"hello":"world","padding":"aaaaaaaaaaaaaaaaaaaaaaaa"}`,
		`{"user":"bob","password":"` + wsrCliTake + `"}`,
		`{"user":"bob","password":"` + wsrCliTake + `","retry":true}`,
	} {
		key := []byte{byte(0x11 * (i + 1)), 0x42, byte(0x99 - i), 0x07}
		if err := pieces(c, string(wsFrame(true, true, 1, key, z.message(m)))); err != nil {
			return err
		}
	}
	for i := 0; i < 2; i++ {
		if _, err := readWSFrame(br); err != nil {
			return err
		}
	}
	reason := append([]byte{0x03, 0xe8}, "token="+wsrCloseTok...)
	if err := pieces(c, string(wsFrame(true, false, 8, []byte{1, 2, 3, 4}, reason))); err != nil {
		return err
	}
	if _, err := readWSFrame(br); err != nil {
		return err
	}
	return <-done
}

// ---- DNS ----

// txtAnswer builds a DNS response with one TXT record to query q.
