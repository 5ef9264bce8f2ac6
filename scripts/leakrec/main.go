// Command leakrec drives real Go servers and clients on loopback with
// secrets planted where packet masking used to leak them (issue 17):
// values split across TCP segments (also hundreds of packets apart),
// across chunks of a chunked body, across HTTP/2 HEADERS + CONTINUATION
// and DATA frames (Huffman and literal HPACK strings, dynamic table
// references), across the 16 KB DATA frames of a gRPC message, inside
// masked and permessage-deflate WebSocket frames (with and without
// context takeover), and in DNS TXT answers.
//
// scripts/record-leak.sh runs one scenario at a time under tcpdump:
//
//	leakrec h1|h2|h2up|grpc|ws|wsraw|dns|dnstcp   run a scenario
//	leakrec secrets                   print the planted secrets (TSV)
//
// Every secret is derived from its name, so a re-recording plants the
// same values and testdata/leak/secrets.tsv stays valid.
package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
)

// Ports of the scenarios (the leak test tells tshark which protocol
// each one carries).
const (
	portH1     = 18080
	portH2     = 18081
	portGRPC   = 18082
	portWS     = 18083
	portWSRaw  = 18084
	portH2Up   = 18085
	portDNS    = 15353
	portDNSTCP = 15354
)

// planted is one secret: its name, the capture it is in, the part that
// must never be readable in a masked export, and where it was put.
type planted struct {
	name, capture, where string
	value                string // what masking must hide
}

var secrets []planted

// secret returns a value derived from name (base62, n characters) and
// records it.
func secret(name, capture, where string, n int) string {
	v := derive(name, n)
	secrets = append(secrets, planted{name: name, capture: capture, where: where, value: v})
	return v
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func derive(name string, n int) string {
	var out []byte
	for i := 0; len(out) < n; i++ {
		h := sha256.Sum256([]byte(fmt.Sprintf("tapview-leak/%s/%d", name, i)))
		for _, c := range h {
			if len(out) < n {
				out = append(out, base62[int(c)%62])
			}
		}
	}
	return string(out)
}

// jwt returns a JWT whose payload and signature are derived from name;
// the recorded secret is everything after the common header.
func jwt(name, capture, where string) string {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"` + derive(name+"/sub", 12) + `","scope":"leak"}`))
	sig := derive(name+"/sig", 43)
	v := payload + "." + sig
	secrets = append(secrets, planted{name: name, capture: capture, where: where, value: v})
	return "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + v
}

// All secrets, created once in a fixed order.
var (
	// HTTP/1.1
	h1Query     = secret("h1-query-api-key", "h1", "query parameter api_key split across two segments", 24)
	h1Bearer    = secret("h1-bearer-split", "h1", "Authorization: Bearer split across two segments", 32)
	h1Cookie    = secret("h1-cookie-split", "h1", "Cookie session value split across two segments", 24)
	h1Far       = secret("h1-far-split", "h1", "X-Api-Key split across two segments > 256 packets apart", 28)
	h1ChunkPw   = secret("h1-chunked-password", "h1", "JSON password split across two chunks of a chunked request body", 22)
	h1ChunkJWT  = jwt("h1-chunked-jwt", "h1", "JWT in a chunked response split across two chunks")
	h1Form      = secret("h1-form-password", "h1", "form password split across two segments", 20)
	h1SetCookie = secret("h1-set-cookie", "h1", "Set-Cookie session value", 26)
	h1Gzip      = secret("h1-gzip-client-secret", "h1", "client_secret inside a gzip response body", 30)

	// HTTP/2 (h2c, prior knowledge; the client's frames are our own)
	h2Path     = secret("h2-path-api-key", "h2", ":path api_key, HPACK raw literal", 24)
	h2Auth     = secret("h2-auth-huffman-continuation", "h2", "authorization Bearer, Huffman, split across HEADERS + CONTINUATION (and TCP segments), indexed", 40)
	h2APIKey   = secret("h2-x-api-key-literal", "h2", "x-api-key raw literal, incremental indexing, referenced again by index", 30)
	h2Cookie   = secret("h2-cookie-huffman", "h2", "cookie session, Huffman literal without indexing", 24)
	h2AuthRaw  = secret("h2-auth-raw-continuation", "h2", "authorization Bearer, raw literal split across HEADERS + CONTINUATION", 36)
	h2DataPw   = secret("h2-data-password", "h2", "JSON password split across two DATA frames", 22)
	h2SetCook  = secret("h2-set-cookie", "h2", "set-cookie from Go's HTTP/2 server (its HPACK encoder)", 26)
	h2RespTok  = secret("h2-response-refresh-token", "h2", "refresh_token in a DATA frame from Go's HTTP/2 server", 30)
	h2Trailers = secret("h2-trailer-token", "h2", "x-auth-token trailer from Go's HTTP/2 server", 26)
	h2BigCook  = secret("h2-big-header-set-cookie", "h2", "set-cookie after a 30 KB header: Go's HTTP/2 server sends HEADERS + CONTINUATION", 26)

	// HTTP/1.1 upgraded to h2c
	h2UpAuth   = secret("h2up-upgrade-request-bearer", "h2up", "Authorization in the HTTP/1.1 upgrade request (split across segments)", 30)
	h2UpCookie = secret("h2up-response-set-cookie", "h2up", "set-cookie in the HTTP/2 response to the upgraded request", 26)
	h2UpAuth2  = secret("h2up-stream3-bearer", "h2up", "authorization on the next HTTP/2 stream (Huffman)", 30)

	// gRPC (grpc-go both ends)
	grpcJWT    = jwt("grpc-jwt-16k", "grpc", "JWT crossing the 16 KB DATA frame boundary of a gRPC message")
	grpcAuth   = secret("grpc-metadata-bearer", "grpc", "authorization metadata (Huffman by grpc-go)", 32)
	grpcGhp    = secret("grpc-response-github-token", "grpc", "GitHub token in a gRPC response message", 36)
	grpcStripe = secret("grpc-gzip-stripe-key", "grpc", "Stripe key in a gzip-compressed gRPC message", 32)

	// WebSocket (gorilla/websocket both ends)
	wsMasked    = secret("ws-client-masked-token", "ws", "token in a client text frame (XOR-masked by the protocol)", 28)
	wsCliDefl   = secret("ws-client-deflate-password", "ws", "password in a client permessage-deflate frame (no context takeover)", 24)
	wsSrvDefl   = secret("ws-server-deflate-session-token", "ws", "session_token in a server permessage-deflate frame", 28)
	wsSrvPlain  = secret("ws-server-plain-refresh-token", "ws", "refresh_token in a server text frame", 28)
	wsrFrag     = secret("wsraw-fragmented-api-key", "wsraw", "api_key split across two masked fragments of one message (and two segments)", 26)
	wsrCliTake  = secret("wsraw-client-takeover-password", "wsraw", "password in client deflate frames with context takeover, repeated as a back-reference", 24)
	wsrSrvTake  = secret("wsraw-server-takeover-session-token", "wsraw", "session_token in server deflate frames with context takeover, repeated as a back-reference", 30)
	wsrCloseTok = secret("wsraw-close-reason-token", "wsraw", "token in a masked close frame's reason", 20)

	// DNS over UDP and over TCP
	dnsTXT    = secret("dns-txt-github-token", "dns", "GitHub token in a DNS TXT answer", 36)
	dnsTCPTXT = secret("dnstcp-txt-github-token", "dnstcp", "GitHub token in a DNS TXT answer over TCP, split across segments", 36)
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("leakrec: ")
	if len(os.Args) != 2 {
		log.Fatal("usage: leakrec h1|h2|h2up|grpc|ws|wsraw|dns|dnstcp|secrets")
	}
	var err error
	switch os.Args[1] {
	case "secrets":
		fmt.Println("# name\tcapture\tsecret (must not be readable in a masked export)\twhere")
		for _, s := range secrets {
			fmt.Printf("%s\t%s\t%s\t%s\n", s.name, s.capture, s.value, s.where)
		}
	case "h1":
		err = runH1()
	case "h2":
		err = runH2()
	case "h2up":
		err = runH2Upgrade()
	case "dnstcp":
		err = runDNSTCP()
	case "grpc":
		err = runGRPC()
	case "ws":
		err = runWS()
	case "wsraw":
		err = runWSRaw()
	case "dns":
		err = runDNS()
	default:
		log.Fatalf("unknown scenario %q", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

// pause lets each write leave in its own segment (Go sets TCP_NODELAY).
func pause() { time.Sleep(15 * time.Millisecond) }

// pieces writes each piece in its own segment.
func pieces(c net.Conn, ps ...string) error {
	for _, p := range ps {
		if _, err := io.WriteString(c, p); err != nil {
			return err
		}
		pause()
	}
	return nil
}

func listen(port int) (net.Listener, error) {
	return net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
}

func dial(port int) (*net.TCPConn, error) {
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	return tc, tc.SetNoDelay(true)
}

// ---- HTTP/1.1 ----

func runH1() error {
	ln, err := listen(portH1)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fl := w.(http.Flusher)
		cut := len(h1ChunkJWT) - 30 // inside the signature
		io.WriteString(w, `{"user":"bob","access_token":"`+h1ChunkJWT[:cut])
		fl.Flush()
		pause()
		io.WriteString(w, h1ChunkJWT[cut:]+`","ok":true}`)
	})
	mux.HandleFunc("/session", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: h1SetCookie, Path: "/", HttpOnly: true})
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		io.WriteString(zw, `{"client_id":"web","client_secret":"`+h1Gzip+`"}`)
		zw.Close()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(b.Bytes())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok\n")
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	c, err := dial(portH1)
	if err != nil {
		return err
	}
	defer c.Close()
	br := bufio.NewReader(c)
	host := fmt.Sprintf("Host: 127.0.0.1:%d\r\n", portH1)
	// A query parameter, a bearer token and a cookie, each split.
	if err := pieces(c,
		"GET /profile?api_key="+h1Query[:8],
		h1Query[8:]+"&lang=en HTTP/1.1\r\n"+host+"Authorization: Bearer "+h1Bearer[:11],
		h1Bearer[11:]+"\r\nCookie: theme=dark; session="+h1Cookie[:5],
		h1Cookie[5:]+"\r\nAccept: */*\r\n\r\n"); err != nil {
		return err
	}
	if err := readResponse(br, "GET"); err != nil {
		return err
	}
	// A chunked request body with the password split across chunks; the
	// response is chunked with a JWT split across chunks.
	c1 := `{"user":"bob","password":"` + h1ChunkPw[:6]
	c2 := h1ChunkPw[6:] + `"}`
	if err := pieces(c,
		"POST /login HTTP/1.1\r\n"+host+"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
		fmt.Sprintf("%x\r\n%s\r\n", len(c1), c1),
		fmt.Sprintf("%x\r\n%s\r\n", len(c2), c2),
		"0\r\n\r\n"); err != nil {
		return err
	}
	if err := readResponse(br, "POST"); err != nil {
		return err
	}
	// A form body split inside the password.
	form := "user=bob&password=" + h1Form + "&remember=1"
	cut := strings.Index(form, h1Form) + 5
	if err := pieces(c,
		"POST /form HTTP/1.1\r\n"+host+"Content-Type: application/x-www-form-urlencoded\r\n"+fmt.Sprintf("Content-Length: %d\r\n\r\n", len(form))+form[:cut],
		form[cut:]); err != nil {
		return err
	}
	if err := readResponse(br, "POST"); err != nil {
		return err
	}
	if err := pieces(c, "GET /session HTTP/1.1\r\n"+host+"\r\n"); err != nil {
		return err
	}
	if err := readResponse(br, "GET"); err != nil {
		return err
	}
	if err := pieces(c, "GET /gzip HTTP/1.1\r\n"+host+"Accept-Encoding: gzip\r\n\r\n"); err != nil {
		return err
	}
	if err := readResponse(br, "GET"); err != nil {
		return err
	}

	// The far split: the first half of the key, then hundreds of
	// packets of another connection, then the second half.
	far, err := dial(portH1)
	if err != nil {
		return err
	}
	defer far.Close()
	if err := pieces(far, "GET /far HTTP/1.1\r\n"+host+"X-Api-Key: "+h1Far[:9]); err != nil {
		return err
	}
	busy, err := dial(portH1)
	if err != nil {
		return err
	}
	const n = 200
	io.WriteString(busy, "POST /upload HTTP/1.1\r\n"+host+fmt.Sprintf("Content-Length: %d\r\n\r\n", n))
	for i := 0; i < n; i++ {
		busy.Write([]byte{'a' + byte(i%26)})
		time.Sleep(2 * time.Millisecond)
	}
	if err := readResponse(bufio.NewReader(busy), "POST"); err != nil {
		return err
	}
	busy.Close()
	if err := pieces(far, h1Far[9:]+"\r\nX-Trace: 1\r\n\r\n"); err != nil {
		return err
	}
	if err := readResponse(bufio.NewReader(far), "GET"); err != nil {
		return err
	}
	pause()
	return nil
}

func readResponse(br *bufio.Reader, method string) error {
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}

// ---- HTTP/2 ----

// hpackBlock builds header blocks by hand, so each field's representation
// (indexed, literal, Huffman or raw) is chosen, not left to an encoder.
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
	var wmu sync.Mutex
	write := func(ps ...[]byte) error {
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
	ended := make(chan uint32, 4)
	go func() {
		fr := http2.NewFramer(nil, c)
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
	var wmu sync.Mutex
	write := func(ps ...[]byte) error {
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
	ended := make(chan uint32, 4)
	go func() {
		fr := http2.NewFramer(nil, br)
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
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// pbString appends a protobuf length-delimited field.
func pbString(b []byte, field int, s string) []byte {
	b = binary.AppendUvarint(b, uint64(field<<3|2))
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func runGRPC() error {
	ln, err := listen(portGRPC)
	if err != nil {
		return err
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(func(_ any, st grpc.ServerStream) error {
		var in []byte
		if err := st.RecvMsg(&in); err != nil {
			return err
		}
		out := pbString(nil, 1, "stored")
		out = pbString(out, 2, "ghp_"+grpcGhp)
		return st.SendMsg(&out)
	}))
	go srv.Serve(ln)
	defer srv.Stop()

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", portGRPC),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+grpcAuth)

	// The JWT's signature straddles byte 16384 of the DATA payload: the
	// 5-byte message prefix, field 1 (padding), then field 2's tag and
	// length, then the token.
	const frame = 16384
	pad := frame - 5 - 3 - 3 - (len(grpcJWT) - 20)
	msg := pbString(nil, 1, strings.Repeat("p", pad))
	msg = pbString(msg, 2, grpcJWT)
	msg = pbString(msg, 3, strings.Repeat("q", 2000))
	var out []byte
	if err := conn.Invoke(ctx, "/leak.Vault/Store", &msg, &out); err != nil {
		return err
	}
	gz := pbString(nil, 1, "stripe")
	gz = pbString(gz, 2, "sk_live_"+grpcStripe)
	gz = pbString(gz, 3, strings.Repeat("filler ", 40))
	if err := conn.Invoke(ctx, "/leak.Vault/Store", &gz, &out, grpc.UseCompressor(grpcgzip.Name)); err != nil {
		return err
	}
	pause()
	return nil
}

// ---- WebSocket (gorilla) ----

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
func txtAnswer(q []byte, txt ...string) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil, err
	}
	question, err := p.Question()
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
	b.StartQuestions()
	b.Question(question)
	b.StartAnswers()
	b.TXTResource(dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 60},
		dnsmessage.TXTResource{TXT: txt})
	return b.Finish()
}

func txtQuery(name string, id uint16) ([]byte, error) {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeTXT, Class: dnsmessage.ClassINET})
	return b.Finish()
}

// runDNSTCP asks for a TXT record over TCP; the answer (2-byte length
// prefix and message) is written in two pieces split inside the token.
func runDNSTCP() error {
	ln, err := listen(portDNSTCP)
	if err != nil {
		return err
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.(*net.TCPConn).SetNoDelay(true)
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			done <- err
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(c, q); err != nil {
			done <- err
			return
		}
		ans, err := txtAnswer(q, "v=leak1", "api_token=ghp_"+dnsTCPTXT)
		if err != nil {
			done <- err
			return
		}
		msg := binary.BigEndian.AppendUint16(nil, uint16(len(ans)))
		msg = append(msg, ans...)
		cut := bytes.Index(msg, []byte(dnsTCPTXT)) + 15
		done <- pieces(c, string(msg[:cut]), string(msg[cut:]))
	}()
	c, err := dial(portDNSTCP)
	if err != nil {
		return err
	}
	defer c.Close()
	q, err := txtQuery("secrets.leak.test.", 0x5443)
	if err != nil {
		return err
	}
	if err := pieces(c, string(binary.BigEndian.AppendUint16(nil, uint16(len(q))))+string(q)); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	var n [2]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, make([]byte, binary.BigEndian.Uint16(n[:]))); err != nil {
		return err
	}
	if err := <-done; err != nil {
		return err
	}
	pause()
	return nil
}

func runDNS() error {
	pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", portDNS))
	if err != nil {
		return err
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			return
		}
		q, err := p.Question()
		if err != nil {
			return
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		b.TXTResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60},
			dnsmessage.TXTResource{TXT: []string{"v=leak1", "deploy_token=ghp_" + dnsTXT}})
		out, err := b.Finish()
		if err == nil {
			pc.WriteTo(out, addr)
		}
	}()
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", portDNS))
	if err != nil {
		return err
	}
	defer c.Close()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 0x4c4b, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("config.leak.test."), Type: dnsmessage.TypeTXT, Class: dnsmessage.ClassINET})
	q, err := b.Finish()
	if err != nil {
		return err
	}
	if _, err := c.Write(q); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1500)
	_, err = c.Read(buf)
	return err
}
