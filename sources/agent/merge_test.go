package agent

import (
	"testing"
	"time"

	"github.com/tapview/tapview/sources"
)

func pkt(src string, ms int) sources.Packet {
	return sources.Packet{Source: src, Timestamp: t0.Add(time.Duration(ms) * time.Millisecond)}
}

func emittedMs(r *recorder) []int {
	p, _ := r.snapshot()
	out := make([]int, len(p))
	for i, x := range p {
		out[i] = int(x.Timestamp.Sub(t0) / time.Millisecond)
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMergerWindowReleasesIdleAgent(t *testing.T) {
	rec := newRecorder()
	m := newMerger(2, 200*time.Millisecond, rec)
	now := time.Now()
	m.add(0, pkt("a", 5), now)
	m.add(0, pkt("a", 6), now.Add(10*time.Millisecond))
	m.release(now.Add(10 * time.Millisecond))
	if got := emittedMs(rec); len(got) != 0 {
		t.Fatalf("released %v while agent b may still send older packets", got)
	}
	d, ok := m.next()
	if !ok || !d.Equal(now.Add(200*time.Millisecond)) {
		t.Fatalf("next deadline %v %v", d, ok)
	}
	m.release(now.Add(200 * time.Millisecond))
	if got := emittedMs(rec); !equalInts(got, []int{5}) {
		t.Fatalf("after the window: %v, want [5]", got)
	}
	// b delivers something older than a's held packet: it goes first.
	m.add(1, pkt("b", 3), now.Add(201*time.Millisecond))
	m.release(now.Add(201 * time.Millisecond))
	if got := emittedMs(rec); !equalInts(got, []int{5, 3}) {
		t.Fatalf("got %v", got)
	}
	// b delivers something newer: a's 6 is now safe.
	m.add(1, pkt("b", 7), now.Add(202*time.Millisecond))
	m.release(now.Add(202 * time.Millisecond))
	if got := emittedMs(rec); !equalInts(got, []int{5, 3, 6}) {
		t.Fatalf("got %v", got)
	}
	m.end(0)
	m.release(now.Add(203 * time.Millisecond))
	if got := emittedMs(rec); !equalInts(got, []int{5, 3, 6, 7}) {
		t.Fatalf("after a ended: %v", got)
	}
	p, _ := rec.snapshot()
	if p[0].Ordinal != 1 || p[1].Ordinal != 1 || p[2].Ordinal != 2 || p[3].Ordinal != 2 {
		t.Fatalf("ordinals %d %d %d %d", p[0].Ordinal, p[1].Ordinal, p[2].Ordinal, p[3].Ordinal)
	}
}

func TestMergerBoundsHeldPackets(t *testing.T) {
	rec := newRecorder()
	m := newMerger(2, time.Hour, rec)
	now := time.Now()
	for i := 0; i < maxHeld+10; i++ {
		m.add(0, pkt("a", i), now)
		m.release(now)
	}
	if n := len(emittedMs(rec)); n != 10 {
		t.Fatalf("%d released, want the 10 beyond the bound", n)
	}
	m.flush()
	got := emittedMs(rec)
	if len(got) != maxHeld+10 {
		t.Fatalf("%d after flush", len(got))
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("position %d holds %d", i, v)
		}
	}
}

func TestFifoCompacts(t *testing.T) {
	var q fifo
	for i := 0; i < 10000; i++ {
		q.push(heldPacket{p: pkt("a", i)})
		if i%2 == 1 {
			q.pop()
		}
	}
	if live := len(q.items) - q.head; len(q.items) > 2*live+1026 {
		t.Fatalf("queue of %d live items uses %d slots", len(q.items)-q.head, len(q.items))
	}
	for i := 5000; !q.empty(); i++ {
		if got := int(q.pop().p.Timestamp.Sub(t0) / time.Millisecond); got != i {
			t.Fatalf("popped %d, want %d", got, i)
		}
	}
}

func TestMergerBoundsHeldBytes(t *testing.T) {
	rec := newRecorder()
	m := newMerger(2, time.Hour, rec)
	now := time.Now()
	const size = 1 << 20
	for i := 0; i < 80; i++ {
		p := pkt("a", i)
		p.Data = make([]byte, size)
		m.add(0, p, now)
		m.release(now)
	}
	if held := m.bytes; held > maxHeldBytes+size {
		t.Fatalf("%d bytes held, bound %d", held, maxHeldBytes)
	}
	if n := len(emittedMs(rec)); n == 0 {
		t.Fatal("nothing released past the byte bound")
	}
}
