package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

var t0 = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// fakeSource emits n packets whose Data carries the ordinal; after is
// called after each packet (nil: nothing), and err is returned at the end.
type fakeSource struct {
	name  string
	n     int
	size  int64
	err   error
	after func(i int)
	// forever makes Run emit until cancelled.
	forever bool
}

func (f *fakeSource) Name() string { return f.name }
func (f *fakeSource) Size() int64  { return f.size }

func (f *fakeSource) Run(ctx context.Context, emit sources.Emitter) error {
	for i := 1; f.forever || i <= f.n; i++ {
		if ctx.Err() != nil {
			return nil
		}
		data := binary.BigEndian.AppendUint64(nil, uint64(i))
		emit.Packet(sources.Packet{Timestamp: t0.Add(time.Duration(i) * time.Millisecond), Data: data,
			Source: f.name, Ordinal: uint64(i), Offset: int64(i-1) * 8, LinkType: 1})
		if f.after != nil {
			f.after(i)
		}
	}
	return f.err
}

// recDecoder records what reaches the decoder goroutine, in order, and
// checks that nothing runs on two goroutines at once.
type recDecoder struct {
	mu       sync.Mutex // only to detect concurrent calls
	busy     bool
	perSrc   map[string][]uint64
	log      []string
	finished int
	finishTS time.Time
	onPacket func(p *sources.Packet)
	stats    []decode.SourceStats
}

func newRecDecoder() *recDecoder { return &recDecoder{perSrc: map[string][]uint64{}} }

func (r *recDecoder) enter(t testing.TB) {
	r.mu.Lock()
	if r.busy {
		t.Error("decoder called concurrently")
	}
	r.busy = true
	r.mu.Unlock()
}

func (r *recDecoder) leave() {
	r.mu.Lock()
	r.busy = false
	r.mu.Unlock()
}

type boundDecoder struct {
	*recDecoder
	t testing.TB
}

func (b boundDecoder) Packet(p *sources.Packet) {
	b.enter(b.t)
	defer b.leave()
	b.perSrc[p.Source] = append(b.perSrc[p.Source], p.Ordinal)
	b.log = append(b.log, fmt.Sprintf("packet %s %d", p.Source, p.Ordinal))
	if b.onPacket != nil {
		b.onPacket(p)
	}
}

func (b boundDecoder) Finish(ts time.Time) {
	b.enter(b.t)
	defer b.leave()
	b.finished++
	b.finishTS = ts
}

func (b boundDecoder) Trace(tr *sources.Trace) {
	b.enter(b.t)
	defer b.leave()
	b.log = append(b.log, fmt.Sprintf("trace %s %d", tr.Source, tr.Ordinal))
}

func (b boundDecoder) Note(s sources.Status) {
	b.enter(b.t)
	defer b.leave()
	b.log = append(b.log, "note "+s.Kind)
}

func (b boundDecoder) Secrets(kind uint32, data []byte) {
	b.enter(b.t)
	defer b.leave()
	b.log = append(b.log, fmt.Sprintf("secrets %d %s", kind, data))
}

func (b boundDecoder) SetStats(st decode.SourceStats) {
	b.mu.Lock()
	b.stats = append(b.stats, st)
	b.mu.Unlock()
}

func (b boundDecoder) opts() Options {
	return Options{Notes: b, Traces: b, Stats: b, Secrets: b}
}

func lastStats(stats []decode.SourceStats, name string) decode.SourceStats {
	var out decode.SourceStats
	for _, s := range stats {
		if s.Name == name {
			out = s
		}
	}
	return out
}

// TestConcurrentFileSourcesDeliverEverything runs many file sources at
// once: every packet reaches the decoder once, in each source's order,
// on one goroutine; Finish gets the latest capture time.
func TestConcurrentFileSourcesDeliverEverything(t *testing.T) {
	rec := newRecDecoder()
	dec := boundDecoder{rec, t}
	var inputs []Input
	const n, srcs = 5000, 8
	for i := 0; i < srcs; i++ {
		inputs = append(inputs, Input{Source: &fakeSource{name: fmt.Sprintf("file%d", i), n: n + i, size: int64(n+i) * 8}})
	}
	opts := dec.opts()
	opts.BatchSize = 64
	opts.QueueBatches = 2 // force back-pressure
	if err := Run(context.Background(), inputs, dec, opts); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < srcs; i++ {
		name := fmt.Sprintf("file%d", i)
		got := rec.perSrc[name]
		if len(got) != n+i {
			t.Fatalf("%s: %d packets, want %d", name, len(got), n+i)
		}
		for j, o := range got {
			if o != uint64(j+1) {
				t.Fatalf("%s: packet %d has ordinal %d", name, j, o)
			}
		}
		st := lastStats(rec.stats, name)
		if !st.Done || st.Packets != int64(n+i) || st.Total != int64(n+i)*8 || st.Bytes != st.Total || st.Dropped != 0 {
			t.Errorf("%s: final stats %+v", name, st)
		}
	}
	if rec.finished != 1 || !rec.finishTS.Equal(t0.Add(time.Duration(n+srcs-1)*time.Millisecond)) {
		t.Errorf("finished %d times at %v", rec.finished, rec.finishTS)
	}
}

// orderedSource emits packets, a status, a trace and secrets in a fixed
// order.
type orderedSource struct{}

func (orderedSource) Name() string { return "mixed" }
func (orderedSource) Run(_ context.Context, emit sources.Emitter) error {
	emit.Packet(sources.Packet{Source: "mixed", Ordinal: 1, Offset: -1})
	emit.Status(sources.Status{Kind: "warn1"})
	emit.Packet(sources.Packet{Source: "mixed", Ordinal: 2, Offset: -1})
	te := emit.(sources.TraceEmitter)
	te.Trace(sources.Trace{Source: "mixed", Ordinal: 1})
	te.Trace(sources.Trace{Source: "mixed", Ordinal: 2})
	emit.Packet(sources.Packet{Source: "mixed", Ordinal: 3, Offset: -1})
	emit.(interface{ Secrets(uint32, []byte) }).Secrets(7, []byte("keys"))
	emit.Packet(sources.Packet{Source: "mixed", Ordinal: 4, Offset: -1})
	return nil
}

func TestItemsKeepSourceOrder(t *testing.T) {
	rec := newRecDecoder()
	dec := boundDecoder{rec, t}
	if err := Run(context.Background(), []Input{{Source: orderedSource{}}}, dec, dec.opts()); err != nil {
		t.Fatal(err)
	}
	want := "packet mixed 1|note warn1|packet mixed 2|trace mixed 1|trace mixed 2|packet mixed 3|secrets 7 keys|packet mixed 4"
	if got := strings.Join(rec.log, "|"); got != want {
		t.Errorf("order:\n got %s\nwant %s", got, want)
	}
}

func TestSourceErrorsAreJoinedWithNames(t *testing.T) {
	rec := newRecDecoder()
	dec := boundDecoder{rec, t}
	errA := errors.New("disk on fire")
	inputs := []Input{
		{Source: &fakeSource{name: "a", n: 10, err: errA}},
		{Source: &fakeSource{name: "b", n: 20}},
		{Source: &fakeSource{name: "c", n: 5, err: errors.New("agent gone")}},
	}
	err := Run(context.Background(), inputs, dec, dec.opts())
	if !errors.Is(err, errA) || !strings.Contains(err.Error(), "a: disk on fire") || !strings.Contains(err.Error(), "c: agent gone") {
		t.Errorf("error %v", err)
	}
	if len(rec.perSrc["b"]) != 20 || len(rec.perSrc["a"]) != 10 {
		t.Errorf("packets a=%d b=%d", len(rec.perSrc["a"]), len(rec.perSrc["b"]))
	}
	if st := lastStats(rec.stats, "a"); st.Err != "disk on fire" || !st.Done {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(strings.Join(rec.log, "|"), "note error") {
		t.Errorf("no error note")
	}
}

func TestCancelStopsSourcesAndFinishes(t *testing.T) {
	rec := newRecDecoder()
	dec := boundDecoder{rec, t}
	ctx, cancel := context.WithCancel(context.Background())
	rec.onPacket = func(p *sources.Packet) {
		if p.Ordinal == 3000 {
			cancel()
		}
	}
	inputs := []Input{
		{Source: &fakeSource{name: "endless", forever: true}},
		{Source: &fakeSource{name: "live", forever: true}, Live: true},
	}
	done := make(chan error)
	go func() { done <- Run(ctx, inputs, dec, dec.opts()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("cancelled run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if rec.finished != 1 {
		t.Errorf("Finish called %d times", rec.finished)
	}
	got := rec.perSrc["endless"]
	for j, o := range got {
		if o != uint64(j+1) {
			t.Fatalf("packet %d has ordinal %d", j, o)
		}
	}
}

// TestLiveSourceDropsWhenDecoderIsBehind: a stalled decoder makes a live
// source drop (and count) instead of blocking it, while a file source in
// the same run loses nothing.
func TestLiveSourceDropsWhenDecoderIsBehind(t *testing.T) {
	rec := newRecDecoder()
	dec := boundDecoder{rec, t}
	release := make(chan struct{})
	liveDone := make(chan struct{})
	var once sync.Once
	rec.onPacket = func(*sources.Packet) { once.Do(func() { <-release }) }
	const n = 20000
	live := &fakeSource{name: "live", n: n, after: func(i int) {
		if i == n {
			close(liveDone)
		}
	}}
	file := &fakeSource{name: "file", n: 3000}
	go func() {
		// The live source finishes all its packets while the decoder
		// is stuck on the first one: it must not have been blocked.
		select {
		case <-liveDone:
		case <-time.After(30 * time.Second):
			t.Error("live source blocked by a stalled decoder")
		}
		close(release)
	}()
	opts := dec.opts()
	opts.BatchSize = 16
	opts.QueueBatches = 4
	if err := Run(context.Background(), []Input{{Source: live, Live: true}, {Source: file}}, dec, opts); err != nil {
		t.Fatal(err)
	}
	st := lastStats(rec.stats, "live")
	got := int64(len(rec.perSrc["live"]))
	if st.Dropped == 0 || got+st.Dropped != n || st.Packets != got {
		t.Errorf("live: delivered %d dropped %d of %d (stats %+v)", got, st.Dropped, n, st)
	}
	if len(rec.perSrc["file"]) != 3000 {
		t.Errorf("file source lost packets: %d", len(rec.perSrc["file"]))
	}
	prev := uint64(0)
	for _, o := range rec.perSrc["live"] {
		if o <= prev {
			t.Fatalf("live packets out of order")
		}
		prev = o
	}
}

// TestTrickleIsFlushed: a source that sends one packet and then waits
// for the decoder to see it must not wait forever for a full batch.
func TestTrickleIsFlushed(t *testing.T) {
	rec := newRecDecoder()
	dec := boundDecoder{rec, t}
	seen := make(chan struct{})
	rec.onPacket = func(*sources.Packet) {
		select {
		case <-seen:
		default:
			close(seen)
		}
	}
	src := &fakeSource{name: "slow", n: 1, after: func(int) {
		select {
		case <-seen:
		case <-time.After(30 * time.Second):
			t.Error("partial batch never reached the decoder")
		}
	}}
	for _, live := range []bool{false, true} {
		seen = make(chan struct{})
		if err := Run(context.Background(), []Input{{Source: src, Live: live}}, dec, dec.opts()); err != nil {
			t.Fatal(err)
		}
	}
}

// panicSource breaks; the others still run.
type panicSource struct{}

func (panicSource) Name() string                               { return "broken" }
func (panicSource) Run(context.Context, sources.Emitter) error { panic("bug") }

func TestSourcePanicIsAnError(t *testing.T) {
	rec := newRecDecoder()
	dec := boundDecoder{rec, t}
	err := Run(context.Background(), []Input{{Source: panicSource{}}, {Source: &fakeSource{name: "ok", n: 3}}}, dec, dec.opts())
	if err == nil || !strings.Contains(err.Error(), "broken: source panicked: bug") || len(rec.perSrc["ok"]) != 3 {
		t.Errorf("err %v, ok packets %d", err, len(rec.perSrc["ok"]))
	}
}

// drainingSource keeps emitting after cancellation, as the agent client
// does while it drains a capture to EOF, then sends a final note.
type drainingSource struct{ n int }

func (d *drainingSource) Name() string { return "drain" }

func (d *drainingSource) Run(ctx context.Context, emit sources.Emitter) error {
	<-ctx.Done()
	for i := 1; i <= d.n; i++ {
		emit.Packet(sources.Packet{Timestamp: t0, Data: []byte{byte(i)}, Source: "drain", Ordinal: uint64(i), LinkType: 1})
	}
	emit.Status(sources.Status{Source: "drain", Kind: "CAPTURE_STOPPED", Message: "stopped"})
	return nil
}

type noteRec struct {
	mu    sync.Mutex
	kinds []string
}

func (n *noteRec) Note(s sources.Status) {
	n.mu.Lock()
	n.kinds = append(n.kinds, s.Kind)
	n.mu.Unlock()
}

// TestDrainAfterCancelIsKept: what a source delivers while it drains
// after cancellation reaches the decoder within the grace period (a live
// source may still drop when the decoder is behind, counted; cancellation
// itself loses nothing).
func TestDrainAfterCancelIsKept(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var got int
	dec := &countDecoder{n: &got}
	notes := &noteRec{}
	err := Run(ctx, []Input{{Source: &drainingSource{n: 2000}}}, dec, Options{Notes: notes, BatchSize: 16, QueueBatches: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got != 2000 {
		t.Errorf("decoder got %d of the 2000 drained packets", got)
	}
	if len(notes.kinds) != 1 || notes.kinds[0] != "CAPTURE_STOPPED" {
		t.Errorf("notes %v, want the final CAPTURE_STOPPED", notes.kinds)
	}
}

type countDecoder struct{ n *int }

func (c *countDecoder) Packet(*sources.Packet) { *c.n++; time.Sleep(time.Microsecond) }
func (c *countDecoder) Finish(time.Time)       {}
