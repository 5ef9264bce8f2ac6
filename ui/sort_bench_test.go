package ui

import (
	"fmt"
	"testing"
)

// BenchmarkSortPass is one sort pass over a million exchanges (latency,
// a number; host+path, a string built per exchange), the work a sorted
// live list repeats at most every four passes' time.
func BenchmarkSortPass(b *testing.B) {
	s := millionStore(million)
	for _, col := range []int{exLat, exURL} {
		b.Run(fmt.Sprint([...]string{exLat: "latency", exURL: "url"}[col]), func(b *testing.B) {
			for b.Loop() {
				if got := sortPositions(s, paneExchanges, col, true, nil, 0, million); len(got) != million {
					b.Fatalf("sorted %d of %d", len(got), million)
				}
			}
		})
	}
}
