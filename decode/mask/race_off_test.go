//go:build !race

package mask

// raceEnabled is set under -race, where sync.Pool drops items on purpose,
// so allocation counts are not meaningful.
const raceEnabled = false
