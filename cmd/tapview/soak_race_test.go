//go:build race

package main

// raceEnabled: the race detector's shadow memory makes RSS several times
// the heap, so TestSoakUI skips its absolute RSS bound (not its growth
// check) under -race.
const raceEnabled = true
