package kubetest

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
)

// Remote command protocol names and stream ids (the Kubernetes
// remotecommand subprotocols; the ids are the first byte of each v5
// WebSocket message, 255 followed by an id closes that stream).
const (
	protoV5     = "v5.channel.k8s.io"
	protoV4     = "v4.channel.k8s.io"
	streamStdin = 0
	streamOut   = 1
	streamErr   = 2
	streamError = 3
	streamClose = 255
)

// attach serves pods/attach: WebSocket v5 for GET upgrades (unless
// NoWebSocket), SPDY v4 otherwise.
func (s *Server) attach(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	verb := "create"
	if r.Method == http.MethodGet {
		verb = "get"
	}
	if s.deniedKey(verb, "", "pods", "attach") || s.deniedKey("create", "", "pods", "attach") {
		forbidden(w, r, "create", "pods", "attach", ns, name)
		return
	}
	s.mu.Lock()
	_, podOK := s.pods[ns+"/"+name]
	capture := s.captures[ns+"/"+name]
	noWS := s.NoWebSocket
	s.mu.Unlock()
	if !podOK {
		notFound(w, r, "pods", name)
		return
	}
	q := r.URL.Query()
	if q.Get("stdin") != "true" || q.Get("stdout") != "true" || q.Get("tty") == "true" {
		writeStatus(w, r, http.StatusBadRequest, metav1.StatusReasonBadRequest, "kubetest: attach needs stdin and stdout without tty", nil)
		return
	}
	k := ns + "/" + name
	if websocket.IsWebSocketUpgrade(r) {
		if noWS {
			writeStatus(w, r, http.StatusBadRequest, metav1.StatusReasonBadRequest, "kubetest: WebSocket upgrades are refused", nil)
			return
		}
		s.attachWebSocket(w, r, k, capture)
		return
	}
	s.attachSPDY(w, r, k, capture)
}

// process plays the capture script: "R" markers until "go" arrives on
// stdin, then the capture's stderr and stdout, then (Hold) the wait for
// stdin to close.
func (s *Server) process(ctx context.Context, k string, c Capture, stdin io.Reader, stdout, stderr io.Writer) {
	started := make(chan bool, 1)
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		br := bufio.NewReader(stdin)
		line, err := br.ReadString('\n')
		started <- err == nil && strings.TrimSpace(line) == "go"
		_, _ = io.Copy(io.Discard, br)
		s.mu.Lock()
		s.stdinClosed[k] = true
		s.mu.Unlock()
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		if _, err := stdout.Write([]byte("R\n")); err != nil {
			return
		}
		select {
		case ok := <-started:
			if !ok {
				return
			}
			break wait
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
	if c.Stderr != "" {
		_, _ = io.WriteString(stderr, c.Stderr)
	}
	chunk := c.Chunk
	if chunk <= 0 {
		chunk = 1000
	}
	for d := c.Data; len(d) > 0; {
		n := min(chunk, len(d))
		if _, err := stdout.Write(d[:n]); err != nil {
			return
		}
		d = d[n:]
	}
	if c.Hold {
		select {
		case <-closed:
		case <-ctx.Done():
		}
	}
}

var upgrader = websocket.Upgrader{
	Subprotocols:    []string{protoV5},
	ReadBufferSize:  32 << 10,
	WriteBufferSize: 32 << 10,
}

// wsWriter writes one stream's data as v5 binary messages.
type wsWriter struct {
	mu   *sync.Mutex
	conn *websocket.Conn
	id   byte
}

func (w wsWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := w.conn.WriteMessage(websocket.BinaryMessage, append([]byte{w.id}, p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *Server) attachWebSocket(w http.ResponseWriter, r *http.Request, k string, c Capture) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	if conn.Subprotocol() != protoV5 {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseProtocolError, "v5.channel.k8s.io required"), time.Now().Add(time.Second))
		return
	}
	s.mu.Lock()
	s.attaches[k] = "websocket"
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stdinR, stdinW := io.Pipe()
	go func() {
		// Reading also answers the client's pings.
		defer cancel()
		defer stdinW.Close()
		for {
			typ, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if typ != websocket.BinaryMessage || len(data) == 0 {
				continue
			}
			switch {
			case data[0] == streamStdin:
				if _, err := stdinW.Write(data[1:]); err != nil {
					return
				}
			case data[0] == streamClose && len(data) > 1 && data[1] == streamStdin:
				stdinW.Close()
			}
		}
	}()
	var mu sync.Mutex
	s.process(ctx, k, c, stdinR, wsWriter{&mu, conn, streamOut}, wsWriter{&mu, conn, streamErr})
	st, _ := json.Marshal(&metav1.Status{Status: metav1.StatusSuccess})
	_, _ = wsWriter{&mu, conn, streamError}.Write(st)
	mu.Lock()
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	mu.Unlock()
	// Give the client a moment to read everything before the TCP close.
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
}

// attachSPDY serves the v4 protocol: the client opens error, stdin,
// stdout and stderr streams (by the streamType header); the server
// writes the output streams and closes them, then the error stream
// (empty: success).
func (s *Server) attachSPDY(w http.ResponseWriter, r *http.Request, k string, c Capture) {
	if _, err := httpstream.Handshake(r, w, []string{protoV4}); err != nil {
		return
	}
	type newStream struct {
		st    httpstream.Stream
		reply <-chan struct{}
	}
	streams := make(chan newStream, 8)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st httpstream.Stream, reply <-chan struct{}) error {
		streams <- newStream{st, reply}
		return nil
	})
	if conn == nil {
		return
	}
	defer conn.Close()
	s.mu.Lock()
	s.attaches[k] = "spdy"
	s.mu.Unlock()
	byType := map[string]httpstream.Stream{}
	timeout := time.After(5 * time.Second)
	for len(byType) < 4 {
		select {
		case ns := <-streams:
			<-ns.reply
			byType[ns.st.Headers().Get("streamType")] = ns.st
		case <-timeout:
			return
		}
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		<-conn.CloseChan()
		cancel()
	}()
	s.process(ctx, k, c, byType["stdin"], byType["stdout"], byType["stderr"])
	byType["stdout"].Close()
	byType["stderr"].Close()
	byType["error"].Close()
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
}
