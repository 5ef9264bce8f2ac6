//go:build race

package http1

// raceEnabled: the race detector's instrumentation allocates, so
// allocation bounds are checked only without it (`go test ./decode/http1`;
// CI runs -race, where they are skipped).
const raceEnabled = true
