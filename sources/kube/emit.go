package kube

import (
	"bytes"
	"strings"
	"sync"
	"time"

	"github.com/tapview/tapview/sources"
)

// podEmitter tags what one pod's capture produces with the pod's source
// name ("namespace/pod"), whatever the reader underneath calls itself,
// and serializes calls: the capture, its stderr and the port-forward
// notes emit from different goroutines.
type podEmitter struct {
	mu    sync.Mutex
	inner sources.Emitter
	name  string
	// node is the Istio-format node id of the pod, given to Envoy
	// traces that carry none, so the trace decoder attributes their
	// exchanges to the pod ("sidecar~IP~pod.namespace~namespace.svc...").
	node string
}

func newPodEmitter(inner sources.Emitter, o owner) *podEmitter {
	return &podEmitter{inner: inner, name: o.source(), node: o.node()}
}

// Packet implements sources.Emitter.
func (e *podEmitter) Packet(p sources.Packet) {
	p.Source = e.name
	e.mu.Lock()
	defer e.mu.Unlock()
	e.inner.Packet(p)
}

// Status implements sources.Emitter.
func (e *podEmitter) Status(s sources.Status) {
	s.Source = e.name
	if s.Time.IsZero() {
		s.Time = time.Now()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.inner.Status(s)
}

// Trace implements sources.TraceEmitter for --via envoy; traces are
// dropped when the pipeline does not take them (it always does).
func (e *podEmitter) Trace(t sources.Trace) {
	te, ok := e.inner.(sources.TraceEmitter)
	if !ok {
		return
	}
	t.Source = e.name
	if t.Node == "" {
		t.Node = e.node
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	te.Trace(t)
}

// note emits an informational or warning Status of this pod.
func (e *podEmitter) note(level sources.Level, kind, msg string) {
	e.Status(sources.Status{Level: level, Kind: kind, Message: msg})
}

// lineNotes turns text written to it (tcpdump's stderr, port-forward
// errors) into Status notes, one per line, up to a limit so a chatty
// process cannot flood the status bar; it keeps the last lines for
// error messages.
type lineNotes struct {
	mu      sync.Mutex
	em      *podEmitter
	kind    string
	partial []byte
	sent    int
	max     int
	tail    []string
}

func newLineNotes(em *podEmitter, kind string, max int) *lineNotes {
	return &lineNotes{em: em, kind: kind, max: max}
}

// Write implements io.Writer.
func (n *lineNotes) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.partial = append(n.partial, p...)
	for {
		i := bytes.IndexByte(n.partial, '\n')
		if i < 0 {
			break
		}
		n.line(string(n.partial[:i]))
		n.partial = n.partial[i+1:]
	}
	if len(n.partial) > 4096 { // no newline in sight: cut it
		n.line(string(n.partial))
		n.partial = n.partial[:0]
	}
	return len(p), nil
}

func (n *lineNotes) line(s string) {
	s = strings.TrimSpace(strings.ToValidUTF8(s, "?"))
	if s == "" {
		return
	}
	n.tail = append(n.tail, s)
	if len(n.tail) > 5 {
		n.tail = n.tail[1:]
	}
	if n.sent < n.max && n.em != nil {
		n.sent++
		level := sources.Info
		if strings.Contains(strings.ToLower(s), "error") || strings.Contains(s, "permission") {
			level = sources.Warning
		}
		n.em.note(level, n.kind, s)
	}
}

// Tail returns the last lines written, joined, for error messages.
func (n *lineNotes) Tail() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	t := n.tail
	if len(n.partial) > 0 {
		t = append(t[:len(t):len(t)], strings.TrimSpace(string(n.partial)))
	}
	return strings.Join(t, "; ")
}
