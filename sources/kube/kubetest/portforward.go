package kubetest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/client-go/tools/portforward"
)

// Port-forward protocol names: SPDY streams, optionally tunnelled over a
// WebSocket whose subprotocol carries a prefix.
const (
	protoPortForward = "portforward.k8s.io"
	protoTunnel      = "SPDY/3.1+portforward.k8s.io"
)

// portForward serves pods/portforward. For each forwarded connection the
// client opens an error stream and a data stream with the same
// requestID and port headers; the server connects the data stream to the
// address registered with Forward, or writes why it cannot on the error
// stream.
func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	if s.deniedKey("create", "", "pods", "portforward") {
		forbidden(w, r, "create", "pods", "portforward", ns, name)
		return
	}
	s.mu.Lock()
	_, podOK := s.pods[ns+"/"+name]
	noWS := s.NoWebSocket
	s.mu.Unlock()
	if !podOK {
		notFound(w, r, "pods", name)
		return
	}
	pf := &pfConn{s: s, pod: ns + "/" + name, errStreams: map[string]httpstream.Stream{}}
	if websocket.IsWebSocketUpgrade(r) {
		if noWS {
			http.Error(w, "kubetest: WebSocket upgrades are refused", http.StatusBadRequest)
			return
		}
		up := websocket.Upgrader{Subprotocols: []string{protoTunnel}}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conn, err := spdy.NewServerConnection(portforward.NewTunnelingConnection("kubetest", ws), pf.newStream)
		if err != nil {
			ws.Close()
			return
		}
		<-conn.CloseChan()
		return
	}
	if _, err := httpstream.Handshake(r, w, []string{protoPortForward}); err != nil {
		return
	}
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, pf.newStream)
	if conn == nil {
		return
	}
	<-conn.CloseChan()
}

// pfConn is one port-forward connection.
type pfConn struct {
	s          *Server
	pod        string
	mu         sync.Mutex
	errStreams map[string]httpstream.Stream
}

func (c *pfConn) newStream(st httpstream.Stream, reply <-chan struct{}) error {
	h := st.Headers()
	id := h.Get("requestID")
	switch h.Get("streamType") {
	case "error":
		c.mu.Lock()
		c.errStreams[id] = st
		c.mu.Unlock()
	case "data":
		go c.serve(st, reply, id, h.Get("port"))
	default:
		return fmt.Errorf("kubetest: unknown stream type %q", h.Get("streamType"))
	}
	return nil
}

// errStream waits briefly for the error stream of a request.
func (c *pfConn) errStream(id string) httpstream.Stream {
	for range 100 {
		c.mu.Lock()
		st := c.errStreams[id]
		c.mu.Unlock()
		if st != nil {
			return st
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func (c *pfConn) serve(data httpstream.Stream, reply <-chan struct{}, id, port string) {
	<-reply
	errSt := c.errStream(id)
	defer data.Close()
	c.s.mu.Lock()
	addr := c.s.forwards[c.pod+":"+port]
	c.s.mu.Unlock()
	var backend net.Conn
	var err error
	if addr == "" {
		err = fmt.Errorf("connection refused (nothing listens on port %s in pod %s)", port, c.pod)
	} else {
		backend, err = net.Dial("tcp", addr)
	}
	if err != nil {
		if errSt != nil {
			fmt.Fprintf(errSt, "error forwarding port %s to pod %s: %v", port, c.pod, err)
			errSt.Close()
		}
		return
	}
	defer backend.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(backend, data)
		if tc, ok := backend.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(data, backend)
	data.Close()
	<-done
	if errSt != nil {
		errSt.Close()
	}
}
