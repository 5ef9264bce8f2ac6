package capgen

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/tapview/tapview/decode"
)

// Event is one write on a recorded connection: the bytes one side sent,
// At after the start of the conversation (or exchange) it belongs to.
type Event struct {
	Dir  decode.Direction
	At   time.Duration
	Data []byte
}

// tapConn records what a real client connection writes (client to server)
// and reads (server to client), in the order it happened. Writes are
// recorded before they are sent and reads after they return, so a
// response is never recorded ahead of its request.
type tapConn struct {
	net.Conn
	log *connLog
}

// connLog is the event list of one recorded connection.
type connLog struct {
	mu     sync.Mutex
	start  time.Time
	events []Event
}

func (l *connLog) add(dir decode.Direction, b []byte) {
	if len(b) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, Event{Dir: dir, At: time.Since(l.start), Data: append([]byte(nil), b...)})
}

// snapshot returns the events so far.
func (l *connLog) snapshot() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

func (c *tapConn) Write(b []byte) (int, error) {
	c.log.add(decode.ClientToServer, b)
	return c.Conn.Write(b)
}

func (c *tapConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.log.add(decode.ServerToClient, b[:n])
	return n, err
}

// tapDialer dials loopback servers and keeps the log of every connection
// it made, so a recorder can collect them after the clients are done.
type tapDialer struct {
	d    net.Dialer
	mu   sync.Mutex
	logs []*connLog
}

func (t *tapDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := t.d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	l := &connLog{start: time.Now()}
	t.mu.Lock()
	t.logs = append(t.logs, l)
	t.mu.Unlock()
	return &tapConn{Conn: c, log: l}, nil
}

// take returns the logs of the connections dialled since the last call.
func (t *tapDialer) take() []*connLog {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.logs
	t.logs = nil
	return out
}

// coalesce merges consecutive events of the same direction into one, as
// one write: on the wire a response read in several chunks is one
// stream of segments either way, and fewer, larger sends segment like a
// real sender with a full socket buffer.
func coalesce(evs []Event) []Event {
	var out []Event
	for _, e := range evs {
		if n := len(out); n > 0 && out[n-1].Dir == e.Dir {
			out[n-1].Data = append(out[n-1].Data, e.Data...)
			continue
		}
		out = append(out, Event{Dir: e.Dir, At: e.At, Data: append([]byte(nil), e.Data...)})
	}
	return out
}

// rebase makes event times relative to the first event.
func rebase(evs []Event) []Event {
	if len(evs) == 0 {
		return evs
	}
	t0 := evs[0].At
	for i := range evs {
		evs[i].At -= t0
	}
	return evs
}

// splitExchanges cuts the events of a sequential HTTP/1 keep-alive
// connection into exchanges: a new exchange starts at every client write
// that follows a server write.
func splitExchanges(evs []Event) [][]Event {
	var out [][]Event
	var cur []Event
	for _, e := range evs {
		if e.Dir == decode.ClientToServer && len(cur) > 0 && cur[len(cur)-1].Dir == decode.ServerToClient {
			out = append(out, cur)
			cur = nil
		}
		cur = append(cur, e)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
