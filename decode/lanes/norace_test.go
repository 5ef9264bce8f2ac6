//go:build !race

package lanes_test

const raceEnabled = false
