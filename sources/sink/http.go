package sink

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tapview/tapview/proto/gloo"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/taptrace"
)

func (s *Sink) newHTTPServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("/", s.token().Handler(http.HandlerFunc(s.serveHTTP), s.refused))
	// A new connection has HandshakeTimeout for its TLS handshake and
	// request headers (slowloris), a request BodyTimeout in all (a slow
	// body), and a keep-alive connection IdleTimeout between requests.
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: s.cfg.HandshakeTimeout,
		ReadTimeout:       s.cfg.BodyTimeout,
		WriteTimeout:      s.cfg.BodyTimeout + 10*time.Second,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: maxStreams, MaxDecoderHeaderTableSize: 4096},
		// net/http logs failed handshakes and bad requests to stderr,
		// which would tear the terminal UI; count them instead.
		ErrorLog: log.New(errorLog{s}, "", 0),
	}
	if s.cfg.TLS != nil {
		hs.TLSConfig = s.cfg.TLS.Clone()
	} else {
		// Envoy clusters configured for HTTP/2 speak h2c.
		hs.Protocols = new(http.Protocols)
		hs.Protocols.SetHTTP1(true)
		hs.Protocols.SetUnencryptedHTTP2(true)
	}
	return hs
}

// serveHTTP accepts a POST (or PUT) on any path: a binary TapRequest, as
// Gloo's HTTP tap sink sends, or with a JSON content type one or more
// TraceWrapper or TapRequest objects. It answers 200 once the traces are
// taken (even when the queue had to drop them: the sender cannot help
// that), 400 for a body that does not decode, 413 for one over the limit.
func (s *Sink) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.counts.requests.Add(1)
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		http.Error(w, "POST a TapRequest (binary protobuf) or JSON TraceWrapper/TapRequest", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(s.cfg.MaxMessageBytes)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.counts.malformed.Add(1)
			http.Error(w, fmt.Sprintf("body larger than %d bytes", s.cfg.MaxMessageBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	node := remoteHost(r.RemoteAddr)
	var traces []*tapv3.TraceWrapper
	if isJSON(r.Header.Get("Content-Type")) {
		traces, err = decodeJSONBody(body, s.cfg.MaxMessageBytes)
	} else {
		traces, err = decodeBinaryBody(body)
	}
	if err != nil {
		s.counts.malformed.Add(1)
		http.Error(w, "malformed tap request: "+err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	for _, tw := range traces {
		// The body's share is what the decoded trace roughly costs.
		s.enqueue(sources.Trace{Wrapper: tw, Source: s.cfg.Name, Node: node, Arrival: now}, len(body)/len(traces))
	}
	w.WriteHeader(http.StatusOK)
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// decodeBinaryBody parses Gloo's HTTP sink body: one binary TapRequest.
func decodeBinaryBody(body []byte) ([]*tapv3.TraceWrapper, error) {
	req := &gloo.TapRequest{}
	if err := proto.Unmarshal(body, req); err != nil {
		return nil, fmt.Errorf("not a binary TapRequest: %w", err)
	}
	if req.GetTraceData().GetTrace() == nil {
		return nil, errors.New("TapRequest has no trace_data")
	}
	return []*tapv3.TraceWrapper{req.GetTraceData()}, nil
}

// decodeJSONBody parses one or more concatenated JSON objects, each a
// TraceWrapper ({"http_buffered_trace": ...}) or a TapRequest
// ({"trace_data": {...}}). Any bad object rejects the whole body, so a
// sender never gets 200 for traces that were lost.
func decodeJSONBody(body []byte, max int) ([]*tapv3.TraceWrapper, error) {
	sp := taptrace.NewSplitter(bytes.NewReader(body), max)
	var out []*tapv3.TraceWrapper
	strict := protojson.UnmarshalOptions{}
	lenient := protojson.UnmarshalOptions{DiscardUnknown: true}
	for i := 1; ; i++ {
		v, err := sp.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("JSON value %d: %w", i, err)
		}
		req := &gloo.TapRequest{}
		if strict.Unmarshal(v, req) == nil && req.GetTraceData() != nil {
			if req.GetTraceData().GetTrace() == nil {
				return nil, fmt.Errorf("JSON value %d: trace_data holds no trace", i)
			}
			out = append(out, req.GetTraceData())
			continue
		}
		tw := &tapv3.TraceWrapper{}
		if err := lenient.Unmarshal(v, tw); err != nil {
			return nil, fmt.Errorf("JSON value %d is neither a TraceWrapper nor a TapRequest: %w", i, err)
		}
		if tw.GetTrace() == nil {
			return nil, fmt.Errorf("JSON value %d holds no trace", i)
		}
		out = append(out, tw)
	}
	if len(out) == 0 {
		return nil, errors.New("empty body")
	}
	return out, nil
}

// errorLog counts what net/http would have logged: failed TLS handshakes
// are refused connections.
type errorLog struct{ s *Sink }

// Write counts one log line of net/http.
func (e errorLog) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("TLS handshake error")) || bytes.Contains(p, []byte("HTTP request to an HTTPS server")) {
		e.s.counts.refused.Add(1)
	}
	return len(p), nil
}

func remoteHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
