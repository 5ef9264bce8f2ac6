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
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"time"
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
