package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"golang.org/x/net/http2/hpack"
)

// HTTP/2 by hand: HPACK blocks across HEADERS + CONTINUATION, DATA splits, h2c upgrade.

type hpackBlock struct{ b []byte }

func (h *hpackBlock) integer(prefix byte, bits uint, v int) {
	max := 1<<bits - 1
	if v < max {
		h.b = append(h.b, prefix|byte(v))
		return
	}
	h.b = append(h.b, prefix|byte(max))
	v -= max
	for v >= 128 {
		h.b = append(h.b, byte(v%128+128))
		v /= 128
	}
	h.b = append(h.b, byte(v))
}

func (h *hpackBlock) str(s string, huffman bool) {
	if huffman {
		code := hpack.AppendHuffmanString(nil, s)
		h.integer(0x80, 7, len(code))
		h.b = append(h.b, code...)
		return
	}
	h.integer(0, 7, len(s))
	h.b = append(h.b, s...)
}

// indexed is an indexed header field.
func (h *hpackBlock) indexed(i int) { h.integer(0x80, 7, i) }

// literal writes a literal field: indexing is "incremental", "without"
// or "never"; nameIdx > 0 names a table entry, else name is sent raw.
func (h *hpackBlock) literal(indexing string, nameIdx int, name, value string, huffman bool) {
	switch indexing {
	case "incremental":
		h.integer(0x40, 6, nameIdx)
	case "never":
		h.integer(0x10, 4, nameIdx)
	default:
		h.integer(0x00, 4, nameIdx)
	}
	if nameIdx == 0 {
		h.str(name, false)
	}
	h.str(value, huffman)
}

func frameHeader(length int, typ http2.FrameType, flags http2.Flags, stream uint32) []byte {
	return []byte{byte(length >> 16), byte(length >> 8), byte(length), byte(typ), byte(flags),
		byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
}

func runH2() error {
	ln, err := listen(portH2)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		// A header block larger than a frame: HEADERS + CONTINUATION.
		w.Header().Set("A-Padding", strings.Repeat("0123456789ABCDEF-_", 1700))
		http.SetCookie(w, &http.Cookie{Name: "session", Value: h2BigCook, Path: "/"})
		io.WriteString(w, "big\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Trailer", "X-Auth-Token")
		w.Header().Set("Content-Type", "application/json")
		http.SetCookie(w, &http.Cookie{Name: "session", Value: h2SetCook, Path: "/"})
		io.WriteString(w, `{"ok":true,"refresh_token":"`+h2RespTok+`"}`)
		w.Header().Set("X-Auth-Token", h2Trailers)
	})
	srv := &http.Server{Handler: h2c.NewHandler(mux, &http2.Server{})}
	go srv.Serve(ln)
	defer srv.Close()

	c, err := dial(portH2)
	if err != nil {
		return err
	}
	defer c.Close()
	write, ended := h2Client(c, c)
	if err := write([]byte(http2.ClientPreface), frameHeader(0, http2.FrameSettings, 0, 0)); err != nil {
		return err
	}
	authority := fmt.Sprintf("127.0.0.1:%d", portH2)

	// Stream 1: POST whose header block is split inside the Huffman
	// coded authorization value, both between HEADERS and CONTINUATION
	// and between TCP segments; the body's password is split across two
	// DATA frames.
	var b hpackBlock
	b.indexed(3) // :method POST
	b.indexed(6) // :scheme http
	b.literal("without", 4, "", "/h2?api_key="+h2Path+"&v=1", false)
	b.literal("incremental", 1, "", authority, true)
	authAt := len(b.b)
	b.literal("incremental", 23, "", "Bearer "+h2Auth, true)
	authEnd := len(b.b)
	b.literal("incremental", 0, "x-api-key", h2APIKey, false)
	b.literal("without", 32, "", "theme=dark; session="+h2Cookie, true)
	b.literal("without", 31, "", "application/json", false)
	split := (authAt + authEnd) / 2
	frag1, frag2 := b.b[:split], b.b[split:]
	headers := append(frameHeader(len(frag1), http2.FrameHeaders, 0, 1), frag1...)
	cont := append(frameHeader(len(frag2), http2.FrameContinuation, http2.FlagContinuationEndHeaders, 1), frag2...)
	tcpCut := 9 + authAt + 3
	if err := write(headers[:tcpCut], headers[tcpCut:], cont); err != nil {
		return err
	}
	body := `{"user":"bob","password":"` + h2DataPw + `"}`
	cut := strings.Index(body, h2DataPw) + 7
	d1 := append(frameHeader(cut, http2.FrameData, 0, 1), body[:cut]...)
	d2 := append(frameHeader(len(body)-cut, http2.FrameData, http2.FlagDataEndStream, 1), body[cut:]...)
	if err := write(d1, d2); err != nil {
		return err
	}
	if err := waitStream(ended, 1); err != nil {
		return err
	}

	// Stream 3: GET that refers to the dynamic table for :authority,
	// authorization and x-api-key, and sends another authorization as a
	// raw literal split across HEADERS and CONTINUATION.
	var b3 hpackBlock
	b3.indexed(2) // :method GET
	b3.indexed(6)
	b3.literal("without", 4, "", "/h2/again", false)
	b3.indexed(64) // :authority (oldest of the three insertions)
	b3.indexed(63) // authorization
	b3.indexed(62) // x-api-key
	rawAt := len(b3.b)
	b3.literal("never", 0, "authorization", "Bearer "+h2AuthRaw, false)
	split = rawAt + len("authorization") + 2 + 7 + len(h2AuthRaw)/2
	headers = append(frameHeader(split, http2.FrameHeaders, http2.FlagHeadersEndStream, 3), b3.b[:split]...)
	cont = append(frameHeader(len(b3.b)-split, http2.FrameContinuation, http2.FlagContinuationEndHeaders, 3), b3.b[split:]...)
	if err := write(headers, cont); err != nil {
		return err
	}
	if err := waitStream(ended, 3); err != nil {
		return err
	}
	// Stream 5: a response whose header block is larger than a frame.
	var b5 hpackBlock
	b5.indexed(2)
	b5.indexed(6)
	b5.literal("without", 4, "", "/big", false)
	b5.indexed(64)
	if err := write(append(frameHeader(len(b5.b), http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 5), b5.b...)); err != nil {
		return err
	}
	if err := waitStream(ended, 5); err != nil {
		return err
	}
	goaway := append(frameHeader(8, http2.FrameGoAway, 0, 0), 0, 0, 0, 5, 0, 0, 0, 0)
	return write(goaway)
}

// runH2Upgrade upgrades an HTTP/1.1 request to h2c (RFC 7540 3.2) and
// sends a second request on the HTTP/2 connection.
func runH2Upgrade() error {
	ln, err := listen(portH2Up)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: h2UpCookie, Path: "/"})
		io.WriteString(w, "upgraded\n")
	})
	srv := &http.Server{Handler: h2c.NewHandler(mux, &http2.Server{})}
	go srv.Serve(ln)
	defer srv.Close()

	c, err := dial(portH2Up)
	if err != nil {
		return err
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if err := pieces(c,
		fmt.Sprintf("GET /up HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n", portH2Up)+
			"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nAuthorization: Bearer "+h2UpAuth[:12],
		h2UpAuth[12:]+"\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		return err
	}
	if resp.StatusCode != 101 {
		return fmt.Errorf("upgrade: %s", resp.Status)
	}
	write, ended := h2Client(c, br)
	if err := write([]byte(http2.ClientPreface), frameHeader(0, http2.FrameSettings, 0, 0)); err != nil {
		return err
	}
	if err := waitStream(ended, 1); err != nil {
		return err
	}
	var b hpackBlock
	b.indexed(2)
	b.indexed(6)
	b.literal("without", 4, "", "/again", false)
	b.literal("without", 1, "", fmt.Sprintf("127.0.0.1:%d", portH2Up), true)
	b.literal("without", 23, "", "Bearer "+h2UpAuth2, true)
	if err := write(append(frameHeader(len(b.b), http2.FrameHeaders, http2.FlagHeadersEndHeaders|http2.FlagHeadersEndStream, 3), b.b...)); err != nil {
		return err
	}
	if err := waitStream(ended, 3); err != nil {
		return err
	}
	return write(append(frameHeader(8, http2.FrameGoAway, 0, 0), 0, 0, 0, 3, 0, 0, 0, 0))
}

func waitStream(ended <-chan uint32, id uint32) error {
	timeout := time.After(5 * time.Second)
	for {
		select {
		case got, ok := <-ended:
			if !ok {
				return fmt.Errorf("connection closed before stream %d ended", id)
			}
			if got == id {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("stream %d did not end", id)
		}
	}
}

// ---- gRPC ----

// rawCodec passes messages through as bytes.

// h2Client is the client side of a hand-driven HTTP/2 connection: write
// sends frames one write at a time (each followed by a pause, so they
// leave in separate segments), and ended receives the IDs of streams the
// server ended. The reader acknowledges the server's SETTINGS; ended is
// closed when the connection is.
func h2Client(c net.Conn, r io.Reader) (write func(ps ...[]byte) error, ended chan uint32) {
	var wmu sync.Mutex
	write = func(ps ...[]byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		for _, p := range ps {
			if _, err := c.Write(p); err != nil {
				return err
			}
			pause()
		}
		return nil
	}
	ended = make(chan uint32, 4)
	go func() {
		fr := http2.NewFramer(nil, r)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				close(ended)
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					write(frameHeader(0, http2.FrameSettings, http2.FlagSettingsAck, 0))
				}
			case *http2.DataFrame:
				if f.StreamEnded() {
					ended <- f.StreamID
				}
			case *http2.HeadersFrame:
				if f.StreamEnded() {
					ended <- f.StreamID
				}
			}
		}
	}()
	return write, ended
}
