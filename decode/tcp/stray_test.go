package tcp

import (
	"testing"
	"time"
)

// TestFlowListStrays: a flow whose activity is older than the last
// maxTouchWalk flows' becomes a stray; the list from head stays exactly
// ordered, idle checks and walks still find the stray, and it rejoins
// the order once it is active again.
func TestFlowListStrays(t *testing.T) {
	d := NewDecoder(newCollector(), Config{})
	var l flowList
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var conns []*conn
	for i := range maxTouchWalk + 10 {
		c := &conn{d: d}
		c.flow.Last = t0.Add(time.Duration(i+10) * time.Second)
		l.push(c)
		conns = append(conns, c)
	}
	late := &conn{d: d}
	late.flow.Last = t0.Add(time.Second) // older than every listed flow
	l.push(late)
	if !late.stray || l.nstray != 1 || l.n != len(conns)+1 || d.open != l.n {
		t.Fatalf("a flow older than %d others: stray %v, %d strays, %d listed, %d open", maxTouchWalk, late.stray, l.nstray, l.n, d.open)
	}
	checkOrdered(t, &l)
	if l.head.flow.Last.Before(t0.Add(5*time.Second)) || !l.strayBefore(t0.Add(5*time.Second)) {
		t.Fatal("the head is not idle but the stray is: strayBefore must say so")
	}
	seen := 0
	l.all(func(*conn) { seen++ })
	if seen != l.n {
		t.Fatalf("all visited %d of %d flows", seen, l.n)
	}
	// Active again, now the newest: it joins the ordered list at the tail.
	late.flow.Last = t0.Add(time.Hour)
	l.touch(late)
	if late.stray || l.nstray != 0 || l.tail != late {
		t.Fatalf("touched stray: stray %v, %d strays, tail is it %v", late.stray, l.nstray, l.tail == late)
	}
	checkOrdered(t, &l)
	// Removing strays and ordered flows keeps the counts.
	old := &conn{d: d}
	old.flow.Last = t0
	l.push(old)
	l.remove(old)
	l.remove(conns[3])
	if old.listed || old.stray || l.nstray != 0 || l.n != len(conns) || d.open != l.n {
		t.Fatalf("after removals: %d strays, %d listed, %d open", l.nstray, l.n, d.open)
	}
	checkOrdered(t, &l)
}

func checkOrdered(t *testing.T, l *flowList) {
	t.Helper()
	n := 0
	for c := l.head; c != nil; c = c.next {
		if c.stray {
			t.Fatal("a stray in the ordered list")
		}
		if c.next != nil && c.next.flow.Last.Before(c.flow.Last) {
			t.Fatalf("ordered list out of order at %v > %v", c.flow.Last, c.next.flow.Last)
		}
		if c.next == nil && l.tail != c {
			t.Fatal("tail is not the last flow")
		}
		n++
	}
	if n+l.nstray != l.n {
		t.Fatalf("%d ordered + %d strays != %d listed", n, l.nstray, l.n)
	}
}
