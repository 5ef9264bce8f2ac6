package packets

import (
	"context"
	"sync"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/export/spool"
	"github.com/tapview/tapview/export/streammask"
	"github.com/tapview/tapview/sources"
)

// Matcher selects exchanges or flows; decode/filter programs satisfy it.
type Matcher interface {
	Match(e *decode.Exchange) bool
	MatchFlow(f *decode.Flow) bool
}

// CollectOptions configure a Collector.
type CollectOptions struct {
	// Match selects what is exported; nil selects everything.
	Match Matcher
	// Flows selects the flows that match, instead of the flows of the
	// exchanges that match.
	Flows bool
	// Limit stops after this many matching exchanges (flows with Flows),
	// calling OnLimit once so the caller can stop the sources; 0 means
	// no limit.
	Limit   int
	OnLimit func()
	// Packetless reports whether an exchange came without packets and has
	// to be synthesized; nil means every exchange has packets.
	Packetless func(e *decode.Exchange) bool
	// Synth receives the selected exchanges without packets; nil drops
	// them.
	Synth *Synthesizer
	// Notes receives the sources' status notes; nil drops them.
	Notes func(sources.Status)
}

// Collector is the decode.Output of pass one. It feeds a Plan with flows
// and exchanges and selects flows as the filter says. It is used from the
// decoder goroutine only.
type Collector struct {
	plan    *Plan
	opts    CollectOptions
	matched int
	limited bool
	err     error
}

// NewCollector returns a Collector filling plan.
func NewCollector(plan *Plan, opts CollectOptions) *Collector {
	return &Collector{plan: plan, opts: opts}
}

// Flow records a flow version; with a flow filter its selection follows
// the newest version.
func (c *Collector) Flow(f *decode.Flow) {
	c.plan.AddFlow(f)
	if !c.opts.Flows || c.opts.Match == nil {
		return
	}
	was := c.plan.Selected(f.ID)
	on := c.opts.Match.MatchFlow(f)
	c.plan.SetSelected(f.ID, on)
	if on && !was {
		c.count()
	}
}

// Exchange records a final exchange, selects its flow when it matches,
// and synthesizes it when it came without packets.
func (c *Collector) Exchange(e *decode.Exchange) {
	if !e.State.Final() {
		return
	}
	c.plan.AddExchange(e)
	matched := true
	switch {
	case c.opts.Match == nil:
	case c.opts.Flows:
		matched = c.plan.Selected(e.FlowID) || e.FlowID == 0 && c.opts.Match.Match(e)
	default:
		matched = c.opts.Match.Match(e)
		if matched {
			c.plan.Select(e.FlowID)
		}
	}
	if !matched || c.limited {
		return
	}
	if !c.opts.Flows {
		c.count()
	}
	if c.opts.Packetless != nil && c.opts.Packetless(e) && c.opts.Synth != nil && c.err == nil {
		c.err = c.opts.Synth.Add(e)
	}
}

func (c *Collector) count() {
	c.matched++
	if c.opts.Limit > 0 && c.matched >= c.opts.Limit && !c.limited {
		c.limited = true
		if c.opts.OnLimit != nil {
			c.opts.OnLimit()
		}
	}
}

// Note passes a status note on.
func (c *Collector) Note(s sources.Status) {
	if c.opts.Notes != nil {
		c.opts.Notes(s)
	}
}

// Matched returns how many exchanges (flows with Flows) matched.
func (c *Collector) Matched() int { return c.matched }

// Err returns the first error met synthesizing packets.
func (c *Collector) Err() error { return c.err }

// SourceSet remembers, per source name, that it delivered packets and
// the last ordinal pass one saw, so exchanges of trace-only sources are
// known to need synthesized packets and pass two stops where pass one
// did. It is safe for concurrent use by sources.
type SourceSet struct {
	mu   sync.Mutex
	last map[string]uint64
}

// NewSourceSet returns an empty set.
func NewSourceSet() *SourceSet { return &SourceSet{last: make(map[string]uint64)} }

// Saw notes a packet.
func (s *SourceSet) Saw(p *sources.Packet) {
	s.mu.Lock()
	if p.Ordinal > s.last[p.Source] || !s.has(p.Source) {
		s.last[p.Source] = p.Ordinal
	}
	s.mu.Unlock()
}

func (s *SourceSet) has(name string) bool {
	_, ok := s.last[name]
	return ok
}

// Last returns the last ordinal seen from a source, and whether the
// source delivered any packet.
func (s *SourceSet) Last(source string) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.last[source]
	return v, ok
}

// Tapped is a source whose packets are noted in a SourceSet and, when a
// spool is given, copied to it (with the key material between them), for
// inputs that cannot be read twice. Made by Plan.Tap for a masking plan,
// it also follows the source's TCP streams (streammask.Tracker) so pass
// two can mask what the protocols reassemble.
type Tapped struct {
	sources.Source
	set    *SourceSet
	spool  *spool.Writer
	plan   *Plan
	follow bool      // the source's TCP streams are followed
	fol    *follower // while Run runs
	mu     sync.Mutex
	err    error
}

// Tap wraps src for pass one. sp may be nil.
func Tap(src sources.Source, set *SourceSet, sp *spool.Writer) *Tapped {
	return &Tapped{Source: src, set: set, spool: sp}
}

// Tap wraps src for pass one of this plan (see the package Tap); when
// the plan masks, the source's TCP streams are followed too, in the
// source's own goroutine.
func (p *Plan) Tap(src sources.Source, set *SourceSet, sp *spool.Writer) *Tapped {
	t := Tap(src, set, sp)
	if p.masker != nil {
		t.plan = p
		t.follow = true
		p.follow = true
	}
	return t
}

// FollowStreams reads src (a capture opened again) only to follow its
// TCP streams, for exports whose pass one decoded no packets, such as
// the UI's export of what it shows: Write then masks what the streams
// hold as `tapview export` does. Without masking it does nothing.
func (p *Plan) FollowStreams(ctx context.Context, src sources.Source) error {
	if p.masker == nil {
		return nil
	}
	return p.Tap(src, NewSourceSet(), nil).Run(ctx, discard{})
}

// discard is an emitter that drops what it gets.
type discard struct{}

func (discard) Packet(sources.Packet) {}
func (discard) Status(sources.Status) {}

// Run runs the wrapped source with an emitter that notes and spools.
// When the source is done, what its streams need masked goes into the
// plan.
func (t *Tapped) Run(ctx context.Context, emit sources.Emitter) error {
	if t.follow {
		m := t.plan.masker
		t.fol = newFollower(func() *streammask.Tracker { return streammask.NewTracker(m) })
	}
	err := t.Source.Run(ctx, &tapEmitter{Emitter: emit, t: t})
	if t.fol != nil {
		for name, r := range t.fol.finish() {
			t.plan.addStreams(name, r)
		}
		t.fol = nil
	}
	return err
}

// Size forwards the wrapped source's size, for progress display.
func (t *Tapped) Size() int64 {
	if s, ok := t.Source.(interface{ Size() int64 }); ok {
		return s.Size()
	}
	return 0
}

// Err returns the first error writing the spool.
func (t *Tapped) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

func (t *Tapped) fail(err error) {
	if err == nil {
		return
	}
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
}

type tapEmitter struct {
	sources.Emitter
	t *Tapped
}

func (e *tapEmitter) Packet(p sources.Packet) {
	e.t.set.Saw(&p)
	if e.t.fol != nil {
		e.t.fol.add(&p)
	}
	if e.t.spool != nil {
		e.t.fail(e.t.spool.WritePacket(p, ""))
	}
	e.Emitter.Packet(p)
}

// Trace forwards Envoy traces when the inner emitter takes them.
func (e *tapEmitter) Trace(tr sources.Trace) {
	if te, ok := e.Emitter.(sources.TraceEmitter); ok {
		te.Trace(tr)
	}
}

// Secrets spools embedded key material and forwards it to the decoder.
func (e *tapEmitter) Secrets(kind uint32, data []byte) {
	if e.t.spool != nil {
		e.t.fail(e.t.spool.WriteSecrets(kind, data))
	}
	if se, ok := e.Emitter.(interface{ Secrets(uint32, []byte) }); ok {
		se.Secrets(kind, data)
	}
}
