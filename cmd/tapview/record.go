package main

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/taptrace"
)

// recorder is -w: it copies everything the sources deliver (packets, and
// Envoy traces for .pb_length_delimited) to a file as it arrives, so a
// live session can be replayed later with `tapview open`. What is recorded
// is raw, never masked: it is the user's own capture, like tcpdump -w.
type recorder struct {
	mu     sync.Mutex
	path   string
	f      *os.File
	buf    *bufio.Writer
	ng     *pcapw.PcapngWriter
	pcap   *pcapw.PcapWriter
	traces *taptrace.Recorder
	err    error
	closed bool
}

func newRecorder(path string) (*recorder, error) {
	if path == "" {
		return nil, nil
	}
	ext := strings.ToLower(filepath.Ext(path))
	switch ext {
	case ".pcapng", ".pcap", ".pb_length_delimited":
	default:
		return nil, usageErr("-w %s: name the file .pcapng (packets), .pcap (packets of one link type) or .pb_length_delimited (Envoy traces)", path)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-w: %w", err)
	}
	r := &recorder{path: path, f: f, buf: bufio.NewWriterSize(f, 1<<20)}
	switch ext {
	case ".pcapng":
		r.ng, err = pcapw.NewPcapng(r.buf, pcapw.NgOptions{Application: "tapview " + versionString(), Comment: "recorded by tapview (not masked)"})
	case ".pb_length_delimited":
		r.traces = taptrace.NewRecorder(r.buf)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("-w %s: %w", path, err)
	}
	return r, nil
}

func (r *recorder) packet(p sources.Packet) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil || r.closed {
		return
	}
	switch {
	case r.ng != nil:
		r.err = r.ng.WritePacket(p, "")
	case r.traces != nil:
		return
	default:
		if r.pcap == nil {
			r.pcap, r.err = pcapw.NewPcap(r.buf, p.LinkType, 0, true)
			if r.err != nil {
				return
			}
		}
		r.err = r.pcap.WritePacket(p, "")
	}
}

func (r *recorder) trace(t sources.Trace) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.traces == nil || r.err != nil || r.closed {
		return
	}
	r.err = r.traces.Record(&t)
}

// Close flushes and closes the file; it is safe to call twice.
func (r *recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return r.err
	}
	r.closed = true
	if r.ng != nil && r.err == nil {
		r.err = r.ng.Flush()
	}
	if r.pcap != nil && r.err == nil {
		r.err = r.pcap.Flush()
	}
	if err := r.buf.Flush(); err != nil && r.err == nil {
		r.err = err
	}
	if err := r.f.Close(); err != nil && r.err == nil {
		r.err = err
	}
	if r.err != nil {
		return fmt.Errorf("-w %s: %w", r.path, r.err)
	}
	return nil
}

// secrets records embedded key material (pcapng DSBs) in a pcapng
// recording.
func (r *recorder) secrets(kind uint32, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ng != nil && r.err == nil && !r.closed {
		r.err = r.ng.WriteSecrets(kind, data)
	}
}

func (r *recorder) wrap(inputs []input) []input { return teeInputs(inputs, r) }

// tee is what a recorded source copies everything into: -w's recorder,
// --upload's segments.
type tee interface {
	packet(sources.Packet)
	trace(sources.Trace)
	secrets(kind uint32, data []byte)
}

// teeInputs wraps each input so that what it delivers is also copied
// into t.
func teeInputs(inputs []input, t tee) []input {
	out := make([]input, len(inputs))
	for i, in := range inputs {
		out[i] = input{src: &recordedSource{Source: in.src, rec: t}, live: in.live}
	}
	return out
}

// recordedSource runs a source with an emitter that tees into the
// recorder.
type recordedSource struct {
	sources.Source
	rec tee
}

func (s *recordedSource) Run(ctx context.Context, emit sources.Emitter) error {
	return s.Source.Run(ctx, &teeEmitter{Emitter: emit, rec: s.rec})
}

// Size forwards the wrapped source's size for progress display.
func (s *recordedSource) Size() int64 {
	if sz, ok := s.Source.(interface{ Size() int64 }); ok {
		return sz.Size()
	}
	return 0
}

// Counts forwards a live source's own drop counters, so recording does not
// hide them from the status bar.
func (s *recordedSource) Counts() sources.Counts {
	if c, ok := s.Source.(sources.Counter); ok {
		return c.Counts()
	}
	return sources.Counts{}
}

// PodNetwork forwards the Kubernetes pod context of the wrapped source, so
// recording does not hide it from the mesh view.
func (s *recordedSource) PodNetwork() (ip netip.Addr, sidecar bool, ranges []netip.Prefix, ok bool) {
	if p, ok := s.Source.(podNetworkSource); ok {
		return p.PodNetwork()
	}
	return netip.Addr{}, false, nil, false
}

// ClusterNamespaces forwards the wrapped source's namespace list.
func (s *recordedSource) ClusterNamespaces() []string {
	if p, ok := s.Source.(clusterNamesSource); ok {
		return p.ClusterNamespaces()
	}
	return nil
}

type teeEmitter struct {
	sources.Emitter
	rec tee
}

func (t *teeEmitter) Packet(p sources.Packet) {
	t.rec.packet(p)
	t.Emitter.Packet(p)
}

// Trace records and forwards Envoy traces when the inner emitter takes
// them.
func (t *teeEmitter) Trace(tr sources.Trace) {
	t.rec.trace(tr)
	if te, ok := t.Emitter.(sources.TraceEmitter); ok {
		te.Trace(tr)
	}
}

// Secrets forwards embedded key material (pcapng DSBs) to the inner
// emitter and the pcapng recording.
func (t *teeEmitter) Secrets(kind uint32, data []byte) {
	t.rec.secrets(kind, data)
	if se, ok := t.Emitter.(interface{ Secrets(uint32, []byte) }); ok {
		se.Secrets(kind, data)
	}
}
