package tcp

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestOldestMatchesSort: lane.oldest, which merges the ordered idle lists
// with their sorted strays up to k, gives what sorting every flow's last
// activity gives, for lists with and without strays (and, every fourth
// seed, TCP flows only and in order: the buffer it reuses); and
// mergeOldest over shards' lists gives the k oldest of all, kthOldest
// the last of those.
func TestOldestMatchesSort(t *testing.T) {
	strays, plain := 0, 0
	for seed := uint64(0); seed < 50; seed++ {
		r := rand.New(rand.NewPCG(seed, 3))
		tcpOnly := seed%4 == 0
		d := &Decoder{}
		ln := &lane{d: d}
		var all []time.Time
		n := 1 + r.IntN(400)
		for i := 0; i < n; i++ {
			// Mostly increasing times, some far behind (strays).
			ts := t0.Add(time.Duration(i) * time.Millisecond)
			if r.IntN(8) == 0 && !tcpOnly {
				ts = t0.Add(-time.Duration(r.IntN(500)) * time.Millisecond)
			}
			transport := "tcp"
			if r.IntN(3) == 0 && !tcpOnly {
				transport = "udp"
			}
			c := &conn{d: d, lane: ln}
			c.flow.Transport, c.flow.Last = transport, ts
			c.list().push(c)
			all = append(all, ts)
		}
		strays += ln.tcpList.nstray + ln.udpList.nstray
		if ln.udpList.n == 0 && ln.tcpList.nstray == 0 {
			plain++
		}
		slices.SortFunc(all, func(a, b time.Time) int { return a.Compare(b) })
		for _, k := range []int{1, 2, len(all) / 3, len(all), len(all) + 5} {
			got := ln.oldest(k)
			want := all[:min(k, len(all))]
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d k %d: oldest gave %d times, sorting %d (first difference at %d)", seed, k, len(got), len(want), firstTimeDiff(got, want))
			}
		}
		// Split over three "shards" and merge back.
		parts := make([][]time.Time, 3)
		for _, ts := range all {
			i := r.IntN(3)
			parts[i] = append(parts[i], ts)
		}
		for _, k := range []int{1, len(all) / 2, len(all) + 1} {
			want := all[:min(k, len(all))]
			if got := mergeOldest(parts, k); !slices.Equal(got, want) {
				t.Fatalf("seed %d k %d: mergeOldest differs from sorting at %d", seed, k, firstTimeDiff(got, want))
			}
			if got, ok := kthOldest(parts, k); !ok || !got.Equal(want[len(want)-1]) {
				t.Fatalf("seed %d k %d: kthOldest gave %v %v, want %v", seed, k, got, ok, want[len(want)-1])
			}
		}
	}
	if strays == 0 || plain == 0 {
		t.Fatalf("%d strays, %d lanes of ordered TCP flows only: the test does not exercise both", strays, plain)
	}
	if _, ok := kthOldest(make([][]time.Time, 3), 5); ok {
		t.Fatal("kthOldest found a time in empty lists")
	}
}

func firstTimeDiff(a, b []time.Time) int {
	for i := range min(len(a), len(b)) {
		if !a[i].Equal(b[i]) {
			return i
		}
	}
	return min(len(a), len(b))
}
