package rebuild

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/tapview/tapview/decode"
)

// hs builds a header list from name, value pairs.
func hs(kv ...string) []decode.Header {
	var out []decode.Header
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, decode.Header{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// readBoth parses rebuilt bytes with net/http, an independent HTTP/1.1
// parser, and reads the bodies to the end (which also reads trailers).
func readBoth(t *testing.T, e *decode.Exchange) (*http.Request, []byte, []*http.Response, [][]byte) {
	t.Helper()
	reqB, respB := Exchange(e)
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(reqB)))
	if err != nil {
		t.Fatalf("request does not parse: %v\n%s", err, reqB)
	}
	reqBody, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatalf("request body: %v", err)
	}
	var resps []*http.Response
	var bodies [][]byte
	br := bufio.NewReader(bytes.NewReader(respB))
	for {
		if _, err := br.Peek(1); err != nil {
			break
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("response does not parse: %v\n%s", err, respB)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("response body: %v", err)
		}
		resps = append(resps, resp)
		bodies = append(bodies, b)
	}
	return req, reqBody, resps, bodies
}

func TestHTTP2GRPCAsHTTP11WithTrailers(t *testing.T) {
	msg := []byte{0, 0, 0, 0, 3, 0x0a, 0x01, 'x'}
	e := &decode.Exchange{
		Proto: "grpc",
		Request: &decode.Message{
			Method: "POST", Target: "/greet.GreetService/Greet", Host: "localhost:50051", Scheme: "http", Proto: "HTTP/2",
			Headers: hs(":method", "POST", ":path", "/greet.GreetService/Greet", ":authority", "localhost:50051", ":scheme", "http", "content-type", "application/grpc", "te", "trailers", "authorization", "Bearer ••••••••"),
			Body:    msg,
		},
		Response: &decode.Message{
			Status: 200, Proto: "HTTP/2",
			Headers:  hs(":status", "200", "content-type", "application/grpc", "content-length", "999"),
			Trailers: hs("grpc-status", "0", "grpc-message", "ok"),
			Body:     msg,
		},
	}
	req, reqBody, resps, bodies := readBoth(t, e)
	if req.Method != "POST" || req.RequestURI != "/greet.GreetService/Greet" || req.Host != "localhost:50051" || req.Proto != "HTTP/1.1" {
		t.Errorf("request line/host: %s %s %s host %s", req.Method, req.RequestURI, req.Proto, req.Host)
	}
	if req.Header.Get(":method") != "" || req.Header.Get("Authorization") != "Bearer ••••••••" || req.Header.Get("Te") != "trailers" {
		t.Errorf("request headers: %v", req.Header)
	}
	if !bytes.Equal(reqBody, msg) || req.ContentLength != int64(len(msg)) {
		t.Errorf("request body %x (length %d)", reqBody, req.ContentLength)
	}
	if len(resps) != 1 || resps[0].StatusCode != 200 || resps[0].Status != "200 OK" {
		t.Fatalf("responses: %v", resps)
	}
	if !bytes.Equal(bodies[0], msg) {
		t.Errorf("response body %x", bodies[0])
	}
	if resps[0].Trailer.Get("Grpc-Status") != "0" || resps[0].Trailer.Get("Grpc-Message") != "ok" {
		t.Errorf("trailers: %v", resps[0].Trailer)
	}
}

func TestInterimAndMaskedDecodedBody(t *testing.T) {
	e := &decode.Exchange{
		Proto: "http/1.1",
		Request: &decode.Message{
			Method: "POST", Target: "/upload?x=1", Proto: "HTTP/1.1",
			Headers: hs("Host", "example.com", "Expect", "100-continue", "Transfer-Encoding", "chunked"),
			Body:    []byte("hello"),
		},
		Interim: []*decode.Message{{Status: 100, Reason: "Continue", Proto: "HTTP/1.1"}},
		Response: &decode.Message{
			Status: 201, Reason: "Created", Proto: "HTTP/1.1",
			// Masking decoded a gzip body: ContentEncoding is empty but
			// the header still says gzip.
			Headers: hs("Content-Encoding", "gzip", "Content-Type", "application/json", "Content-Length", "40"),
			Body:    []byte(`{"password":"••••••••"}`),
			Masked:  true,
		},
	}
	req, reqBody, resps, bodies := readBoth(t, e)
	if req.Host != "example.com" || string(reqBody) != "hello" || len(req.TransferEncoding) != 0 {
		t.Errorf("request: host %q body %q te %v", req.Host, reqBody, req.TransferEncoding)
	}
	if len(resps) != 2 || resps[0].StatusCode != 100 || resps[1].StatusCode != 201 {
		t.Fatalf("want 100 then 201, got %d responses", len(resps))
	}
	if resps[1].Header.Get("Content-Encoding") != "" {
		t.Errorf("Content-Encoding kept for a decoded body: %v", resps[1].Header)
	}
	if string(bodies[1]) != `{"password":"••••••••"}` {
		t.Errorf("body %q", bodies[1])
	}
}

func TestNoBodyStatusesAndHEAD(t *testing.T) {
	for _, tc := range []struct {
		method string
		status int
	}{{"GET", 204}, {"GET", 304}, {"HEAD", 200}} {
		e := &decode.Exchange{
			Request:  &decode.Message{Method: tc.method, Target: "/", Headers: hs("Host", "h")},
			Response: &decode.Message{Status: tc.status, Headers: hs("Content-Length", "12")},
		}
		_, resp := Exchange(e)
		if bytes.Contains(resp, []byte("Content-Length")) || !bytes.HasSuffix(resp, []byte("\r\n\r\n")) {
			t.Errorf("%s → %d: %q", tc.method, tc.status, resp)
		}
	}
	// A response without a body still says so, so the connection can
	// carry the next exchange.
	_, resp := Exchange(&decode.Exchange{Response: &decode.Message{Status: 404}})
	if !bytes.Contains(resp, []byte("Content-Length: 0\r\n")) || !bytes.HasPrefix(resp, []byte("HTTP/1.1 404 Not Found\r\n")) {
		t.Errorf("404: %q", resp)
	}
}

func TestLineBreaksInValuesCannotInjectHeaders(t *testing.T) {
	e := &decode.Exchange{Request: &decode.Message{Method: "GET", Target: "/a\r\nX-Evil: 1",
		Headers: hs("Host", "h\r\nX-Evil: 2")}}
	req, _, _, _ := readBoth(t, e)
	if req.Header.Get("X-Evil") != "" {
		t.Fatalf("header injected: %v", req.Header)
	}
}
