package tcp

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestOldestMatchesSort: lane.oldest, which merges the ordered idle lists
// with their sorted strays up to k, gives what sorting every flow's last
// activity gives, for lists with and without strays; and mergeOldest over
// shards' lists gives the k oldest of all.
func TestOldestMatchesSort(t *testing.T) {
	strays := 0
	for seed := uint64(0); seed < 50; seed++ {
		r := rand.New(rand.NewPCG(seed, 3))
		d := &Decoder{}
		ln := &lane{d: d}
		var all []time.Time
		n := 1 + r.IntN(400)
		for i := 0; i < n; i++ {
			// Mostly increasing times, some far behind (strays).
			ts := t0.Add(time.Duration(i) * time.Millisecond)
			if r.IntN(8) == 0 {
				ts = t0.Add(-time.Duration(r.IntN(500)) * time.Millisecond)
			}
			transport := "tcp"
			if r.IntN(3) == 0 {
				transport = "udp"
			}
			c := &conn{d: d, lane: ln}
			c.flow.Transport, c.flow.Last = transport, ts
			c.list().push(c)
			all = append(all, ts)
		}
		strays += ln.tcpList.nstray + ln.udpList.nstray
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
			if got, want := mergeOldest(parts, k), all[:min(k, len(all))]; !slices.Equal(got, want) {
				t.Fatalf("seed %d k %d: mergeOldest differs from sorting at %d", seed, k, firstTimeDiff(got, want))
			}
		}
	}
	if strays == 0 {
		t.Fatal("no strays: the test does not exercise them")
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
