//go:build race

package mesh

// raceEnabled scales the randomised tests down under the race detector,
// which slows them about tenfold; they have no goroutines of their own,
// so the full runs without -race cover what -race would add.
const raceEnabled = true
