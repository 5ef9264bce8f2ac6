package http2

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/view"
)

// TestCorpusCounts decodes every corpus capture and compares HTTP/2
// HEADERS frames and gRPC messages with tshark's counts in MANIFEST.tsv
// (http2_headers_total, grpc_msgs_total). Files without HTTP/2 must not
// produce a single HTTP/2 frame: detection is by content, and a false
// positive would show up here.
func TestCorpusCounts(t *testing.T) {
	dir := corpustest.Dir(t)
	for _, row := range corpustest.Manifest(t) {
		name := row["file"]
		t.Run(name, func(t *testing.T) {
			p := New()
			out := decodeFile(t, filepath.Join(dir, name), p, decode.Limits{})
			out.checkFinal()
			wantHeaders := row.Int(t, "http2_headers_total")
			wantMsgs := row.Int(t, "grpc_msgs_total")
			st := p.Stats()
			if st.HeadersFrames != int64(wantHeaders) {
				t.Errorf("HEADERS frames: parser counted %d, tshark %d", st.HeadersFrames, wantHeaders)
			}
			var fromExchanges, msgs int
			for _, e := range out.exchanges() {
				if e.StreamID == 0 {
					continue
				}
				fromExchanges += headersFrames(e)
				for _, m := range []*decode.Message{e.Request, e.Response} {
					if m != nil {
						msgs += len(m.Parts)
					}
				}
			}
			if fromExchanges != wantHeaders {
				t.Errorf("HEADERS frames from exchanges: %d, tshark %d", fromExchanges, wantHeaders)
			}
			if msgs != wantMsgs || st.GRPCMessages != int64(wantMsgs) {
				t.Errorf("gRPC messages: %d in exchanges, %d counted, tshark %d", msgs, st.GRPCMessages, wantMsgs)
			}
			if wantHeaders == 0 && st.Frames != 0 {
				t.Errorf("no HTTP/2 in this file, but %d frames were parsed", st.Frames)
			}
			if st.UnknownFields != 0 || st.Resyncs != 0 {
				t.Errorf("clean capture gave %d unknown header fields and %d resyncs", st.UnknownFields, st.Resyncs)
			}
		})
	}
}

func corpusExchanges(t *testing.T, name string) []*decode.Exchange {
	t.Helper()
	out := decodeFile(t, filepath.Join(corpustest.Dir(t), name), New(), decode.Limits{})
	out.checkFinal()
	var xs []*decode.Exchange
	for _, e := range out.exchanges() {
		if e.Proto == "h2" || e.Proto == "grpc" {
			xs = append(xs, e)
		}
	}
	return byStream(xs)
}

func TestCorpusDoH(t *testing.T) {
	xs := corpusExchanges(t, "h2c_prior_knowledge_doh_34streams.pcap")
	if len(xs) != 34 {
		t.Fatalf("%d h2 exchanges, want 34", len(xs))
	}
	for i, e := range xs {
		if want := uint32(15 + 2*i); e.StreamID != want {
			t.Errorf("exchange %d: stream %d, want %d", i, e.StreamID, want)
		}
		if e.State != decode.Complete || e.Error != "" {
			t.Errorf("stream %d: %s %q", e.StreamID, e.State, e.Error)
		}
		req, resp := e.Request, e.Response
		if req == nil || resp == nil {
			t.Fatalf("stream %d: missing a side", e.StreamID)
		}
		if req.Method != "POST" || req.Scheme == "" || req.Host == "" || req.Target == "" || req.Proto != "HTTP/2" {
			t.Errorf("stream %d request: %q %q %q %q", e.StreamID, req.Method, req.Scheme, req.Host, req.Target)
		}
		if req.ContentType() != "application/dns-message" || resp.ContentType() != "application/dns-message" {
			t.Errorf("stream %d content types %q %q", e.StreamID, req.ContentType(), resp.ContentType())
		}
		if resp.Status != 200 || len(req.Body) == 0 || len(resp.Body) == 0 || int64(len(resp.Body)) != resp.BodySize {
			t.Errorf("stream %d: status %d, bodies %d/%d", e.StreamID, resp.Status, len(req.Body), len(resp.Body))
		}
		// A DNS query body: 12-byte header, QDCOUNT 1.
		if len(req.Body) >= 12 && (req.Body[4] != 0 || req.Body[5] != 1) {
			t.Errorf("stream %d: request body is not a DNS query: % x", e.StreamID, req.Body[:12])
		}
		if e.Request.First.IsZero() || e.Latency() <= 0 {
			t.Errorf("stream %d: no timing", e.StreamID)
		}
	}
}

func TestCorpusIPv6SixStreams(t *testing.T) {
	xs := corpusExchanges(t, "h2c_ipv6_6streams_port3000.pcap")
	if len(xs) != 6 {
		t.Fatalf("%d exchanges, want 6", len(xs))
	}
	var total int64
	for _, e := range xs {
		if e.State != decode.Complete || e.Request.Method != "GET" || e.Status() != 200 {
			t.Errorf("stream %d: %s %q %s %d", e.StreamID, e.State, e.Error, e.Method(), e.Status())
		}
		total += e.Response.BodySize
		if cl := e.Response.HeaderValue("content-length"); cl != strconv.FormatInt(e.Response.BodySize, 10) || e.Response.Truncated {
			t.Errorf("stream %d: body %d bytes, content-length %s", e.StreamID, e.Response.BodySize, cl)
		}
	}
	if total < 400_000 {
		t.Errorf("response bodies total %d bytes, the capture carries ~411 kB", total)
	}
	if xs[0].Request.Target != "/doc/manual/html/index.html" {
		t.Errorf("first stream: %q", xs[0].Request.Target)
	}
}

func TestCorpusUpgrade(t *testing.T) {
	out := decodeFile(t, filepath.Join(corpustest.Dir(t), "h2c_upgrade_from_http11.pcap"), New(), decode.Limits{})
	out.checkFinal()
	var h1, h2 []*decode.Exchange
	for _, e := range out.exchanges() {
		if e.StreamID == 0 {
			h1 = append(h1, e)
		} else {
			h2 = append(h2, e)
		}
	}
	h2 = byStream(h2)
	if len(h1) != 1 || h1[0].Status() != 101 || h1[0].Request.HeaderValue("Upgrade") != "h2c" {
		t.Fatalf("HTTP/1.1 side: %d exchanges", len(h1))
	}
	if len(h2) != 2 || h2[0].StreamID != 1 || h2[1].StreamID != 3 {
		t.Fatalf("h2 exchanges: %d", len(h2))
	}
	up := h2[0]
	// RFC 7540 §3.2: stream 1 answers the HTTP/1.1 request that asked
	// for the upgrade; its exchange shows that request.
	if up.Request == nil || up.Request.Method != "GET" || up.Request.Target != "/robots.txt" || up.Request.Proto != "HTTP/1.1" || up.Response == nil || up.Response.Status != 200 || up.State != decode.Complete {
		t.Errorf("stream 1 (the upgraded request's response): req=%v resp=%+v state=%s %q", up.Request, up.Response, up.State, up.Error)
	}
	s3 := h2[1]
	if s3.Request == nil || s3.Request.Method != "GET" || s3.Status() != 404 || s3.State != decode.Complete {
		t.Errorf("stream 3: %s %d %s %q", s3.Method(), s3.Status(), s3.State, s3.Error)
	}
}

func TestCorpusGRPC(t *testing.T) {
	for _, c := range []struct {
		file, method string
		req, resp    int
	}{
		{"grpc_unary.pcapng", "Greet", 1, 1},
		{"grpc_server_streaming.pcapng", "GreetManyTimes", 1, 10},
		{"grpc_client_streaming.pcapng", "LongGreet", 3, 1},
		{"grpc_bidi_streaming.pcapng", "GreetEveryone", 3, 3},
	} {
		t.Run(c.file, func(t *testing.T) {
			xs := corpusExchanges(t, c.file)
			if len(xs) != 1 {
				t.Fatalf("%d exchanges, want 1", len(xs))
			}
			e := xs[0]
			if e.Proto != "grpc" || e.GRPC == nil || e.GRPC.Service != "greet.GreetService" || e.GRPC.Method != c.method || e.GRPC.Status != 0 {
				t.Fatalf("%s %+v", e.Proto, e.GRPC)
			}
			if e.State != decode.Complete || e.Error != "" {
				t.Errorf("state %s %q", e.State, e.Error)
			}
			if len(e.Request.Parts) != c.req || len(e.Response.Parts) != c.resp {
				t.Errorf("messages %d/%d, want %d/%d", len(e.Request.Parts), len(e.Response.Parts), c.req, c.resp)
			}
			for _, m := range []*decode.Message{e.Request, e.Response} {
				for i, p := range m.Parts {
					lines, ok := view.DecodeRawProtobuf(p.Data)
					if !ok || len(lines) == 0 || p.Truncated || int64(len(p.Data)) != p.Size {
						t.Errorf("part %d: %q ok=%v truncated=%v", i, lines, ok, p.Truncated)
					}
				}
			}
			if c.file == "grpc_unary.pcapng" && e.Request.HeaderValue("authorization") == "" {
				t.Errorf("custom authorization metadata missing: %q", e.Request.Headers)
			}
		})
	}
}
