package packets

import "github.com/tapview/tapview/internal/cleanmemo"

// The plan's memo of values the masker leaves alone (internal/cleanmemo):
// exchanges repeat most of their header lines and targets, and scanning
// each again was 0.9 of the 2.1 CPU-s the collector spent on the 1 GB
// benchmark capture. 16Ki slots of 128 bytes (2 MiB).
const (
	cleanSlots  = 1 << 14
	cleanStride = 128
)

// What a key was checked with: the masker's Bytes (a header line, a
// target, a body) or its Text (a summary's host and target). The kinds
// are remembered apart.
const (
	memoBytes byte = 1
	memoText  byte = 2
)

func newCleanMemo() cleanmemo.Memo { return cleanmemo.New(cleanSlots, cleanStride) }
