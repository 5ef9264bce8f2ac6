package capgen

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/sources"
)

// Mixes accepted by ReplayOptions.Mix.
const (
	MixHTTP1 = "http1" // HTTP/1.1 keep-alive only
	MixMixed = "mixed" // HTTP/1.1, h2c and gRPC connections side by side
)

// ReplayOptions shape the generated capture. Replay stops starting new
// exchanges once Requests exchanges were started or Bytes bytes were
// written (whichever is set; both: when both are reached), then ends the
// open connections.
type ReplayOptions struct {
	Requests int64
	Bytes    int64
	// Written reports the bytes written so far; required with Bytes.
	Written func() int64
	// Mix is MixHTTP1 (default) or MixMixed.
	Mix string
	// Concurrency is how many connections are open at once (default 64).
	Concurrency int
	// KeepAliveMin/Max bound the exchanges per HTTP/1 connection
	// (default 50..250).
	KeepAliveMin, KeepAliveMax int
	// Seed makes the replay reproducible for a given corpus.
	Seed uint64
	// Start is the first packet's time (default 2026-01-15T10:00:00Z).
	Start time.Time
}

// Stats describe what Replay wrote.
type Stats struct {
	Exchanges   int64
	Packets     int64
	Connections int64
	ByProto     map[string]int64
}

// Server endpoints of the replayed connections, by protocol. Clients are
// 127.0.0.1 with ports counted up from clientPortLo, wrapping.
var serverOf = map[string]netip.AddrPort{
	"http/1.1": netip.MustParseAddrPort("127.0.0.1:8080"),
	"h2c":      netip.MustParseAddrPort("127.0.0.1:8081"),
	"grpc":     netip.MustParseAddrPort("127.0.0.1:50051"),
}

const (
	clientPortLo = 20000
	clientPortHi = 60999
	// meanThink is the mean pause between exchanges on one connection,
	// meanIdle the pause before a slot opens its next connection.
	meanThink = 2 * time.Millisecond
	meanIdle  = 5 * time.Millisecond
)

// Replay writes connections built from c's recorded units to w until
// the budget in o is spent, then flushes w. Memory stays constant: each
// of the Concurrency slots holds the packets of one exchange (or one
// recorded h2c/gRPC connection) at a time, merged into timestamp order.
func Replay(w pcapw.PacketWriter, c *Corpus, o ReplayOptions) (Stats, error) {
	if err := o.check(c); err != nil {
		return Stats{}, err
	}
	rp := &replayer{c: c, o: o, r: rand.New(rand.NewPCG(o.Seed, 99)), port: clientPortLo,
		st: Stats{ByProto: map[string]int64{}}}
	rp.weights()
	var h slotHeap
	for i := 0; i < o.Concurrency; i++ {
		s := &slot{at: o.Start.Add(time.Duration(i) * 37 * time.Microsecond)}
		if rp.refill(s) {
			h = append(h, s)
		}
	}
	heap.Init(&h)
	var ordinal uint64
	for len(h) > 0 {
		s := h[0]
		p := s.buf[s.pos]
		s.buf[s.pos] = sources.Packet{}
		s.pos++
		ordinal++
		p.Ordinal = ordinal
		if err := w.WritePacket(p, ""); err != nil {
			return rp.st, fmt.Errorf("capgen: %w", err)
		}
		rp.st.Packets++
		if s.pos < len(s.buf) || rp.refill(s) {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	if err := w.Flush(); err != nil {
		return rp.st, fmt.Errorf("capgen: %w", err)
	}
	return rp.st, nil
}

func (o *ReplayOptions) check(c *Corpus) error {
	if o.Requests <= 0 && o.Bytes <= 0 {
		return errors.New("capgen: set Requests or Bytes")
	}
	if o.Bytes > 0 && o.Written == nil {
		return errors.New("capgen: Bytes needs Written")
	}
	if o.Mix == "" {
		o.Mix = MixHTTP1
	}
	if o.Mix != MixHTTP1 && o.Mix != MixMixed {
		return fmt.Errorf("capgen: unknown mix %q (use %s or %s)", o.Mix, MixHTTP1, MixMixed)
	}
	if len(c.HTTP1) == 0 || o.Mix == MixMixed && (len(c.H2C) == 0 || len(c.GRPC) == 0) {
		return errors.New("capgen: the corpus lacks units for this mix")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.KeepAliveMin <= 0 {
		o.KeepAliveMin = 50
	}
	if o.KeepAliveMax < o.KeepAliveMin {
		o.KeepAliveMax = max(250, o.KeepAliveMin)
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	}
	return nil
}

// slot is one connection position: it opens connections one after the
// other and buffers the packets of its current step.
type slot struct {
	at   time.Time // when the next step starts
	t    *synth.TCP
	unit *Unit // a whole recorded connection (h2c, gRPC); nil for HTTP/1
	left int   // HTTP/1 exchanges still to send on this connection
	buf  []sources.Packet
	pos  int
}

type replayer struct {
	c    *Corpus
	o    ReplayOptions
	r    *rand.Rand
	port int
	st   Stats
	// pH2C and pGRPC are the probabilities that a new connection is h2c
	// or gRPC, chosen so each carries its share of exchanges.
	pH2C, pGRPC float64
}

// weights sets connection probabilities for the mix: HTTP/1.1 carries
// half of the exchanges, h2c 30% and gRPC 20%.
func (rp *replayer) weights() {
	if rp.o.Mix != MixMixed {
		return
	}
	avg := func(us []Unit) float64 {
		n := 0
		for _, u := range us {
			n += u.Exchanges
		}
		return float64(n) / float64(len(us))
	}
	w1 := 0.5 / (float64(rp.o.KeepAliveMin+rp.o.KeepAliveMax) / 2)
	w2 := 0.3 / avg(rp.c.H2C)
	w3 := 0.2 / avg(rp.c.GRPC)
	rp.pH2C, rp.pGRPC = w2/(w1+w2+w3), w3/(w1+w2+w3)
}

// exhausted reports whether the budget allows no further exchange.
func (rp *replayer) exhausted() bool {
	reqDone := rp.o.Requests <= 0 || rp.st.Exchanges >= rp.o.Requests
	bytesDone := rp.o.Bytes <= 0 || rp.o.Written() >= rp.o.Bytes
	return reqDone && bytesDone
}

// fits reports whether a unit of n exchanges stays within Requests.
func (rp *replayer) fits(n int) bool {
	return rp.o.Requests <= 0 || rp.st.Exchanges+int64(n) <= rp.o.Requests
}

func (rp *replayer) exp(mean time.Duration) time.Duration {
	return time.Duration(rp.r.ExpFloat64() * float64(mean))
}

// refill puts the packets of s's next step into s.buf; false means the
// slot is finished.
func (rp *replayer) refill(s *slot) bool {
	s.buf, s.pos = s.buf[:0], 0
	switch {
	case s.t == nil:
		if rp.exhausted() {
			return false
		}
		rp.open(s)
	case s.unit != nil:
		s.buf = s.unit.appendPackets(s.buf, s.t, s.at)
		s.unit, s.left = nil, 0
		rp.advance(s, meanThink)
	case s.left > 0 && !rp.exhausted():
		u := &rp.c.HTTP1[rp.r.IntN(len(rp.c.HTTP1))]
		s.buf = u.appendPackets(s.buf, s.t, s.at)
		rp.count(u)
		s.left--
		rp.advance(s, meanThink)
	default:
		s.buf = append(s.buf, s.t.Close(s.at)...)
		s.t = nil
		rp.advance(s, meanIdle)
	}
	return len(s.buf) > 0
}

func (rp *replayer) count(u *Unit) {
	rp.st.Exchanges += int64(u.Exchanges)
	rp.st.ByProto[u.Proto] += int64(u.Exchanges)
}

// advance moves the slot's clock past its last packet plus a pause.
func (rp *replayer) advance(s *slot, mean time.Duration) {
	if n := len(s.buf); n > 0 {
		s.at = s.buf[n-1].Timestamp
	}
	s.at = s.at.Add(synth.Tick + rp.exp(mean))
}

// open starts a connection on s: HTTP/1.1 keep-alive, or a recorded
// h2c/gRPC connection in the mixed mode when it fits the budget.
func (rp *replayer) open(s *slot) {
	proto := "http/1.1"
	var unit *Unit
	if rp.o.Mix == MixMixed {
		x := rp.r.Float64()
		var us []Unit
		switch {
		case x < rp.pH2C:
			us = rp.c.H2C
		case x < rp.pH2C+rp.pGRPC:
			us = rp.c.GRPC
		}
		if len(us) > 0 {
			u := &us[rp.r.IntN(len(us))]
			if rp.fits(u.Exchanges) {
				// Counted now, so other slots see the budget taken.
				unit, proto = u, u.Proto
				rp.count(u)
			}
		}
	}
	client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(rp.port))
	rp.port++
	if rp.port > clientPortHi {
		rp.port = clientPortLo
	}
	t, err := synth.NewTCP(client, serverOf[proto], synth.Options{Source: "lo"})
	if err != nil {
		panic(err) // fixed IPv4 endpoints: cannot fail
	}
	s.t, s.unit = t, unit
	s.left = rp.o.KeepAliveMin + rp.r.IntN(rp.o.KeepAliveMax-rp.o.KeepAliveMin+1)
	s.buf = append(s.buf, t.Open(s.at)...)
	rp.st.Connections++
	rp.advance(s, 0)
}

// slotHeap orders slots by their next packet's time.
type slotHeap []*slot

func (h slotHeap) Len() int { return len(h) }
func (h slotHeap) Less(i, j int) bool {
	return h[i].buf[h[i].pos].Timestamp.Before(h[j].buf[h[j].pos].Timestamp)
}
func (h slotHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *slotHeap) Push(x any)   { *h = append(*h, x.(*slot)) }
func (h *slotHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	*h = old[:len(old)-1]
	return s
}
