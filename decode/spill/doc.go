// Package spill is an append-only on-disk store for whole decoded
// exchanges. A memory-bounded session keeps only compact summaries in
// memory (issue 15) and asks the store for headers, bodies and parts when
// a view needs them.
//
// # Directory
//
// Open creates <Dir>/tapview-spill-<pid>-<random>/ with a file "lock",
// locked (flock on unix, LockFileEx on windows) for as long as the store
// is open, and segment files "seg-NNNNNNNN" numbered from 1. Close removes
// the directory. A process that dies leaves its directory behind with an
// unlocked lock file; the next Open in the same parent removes it. On
// platforms with neither lock the cleanup is skipped.
//
// # Segments and records
//
// A segment starts with the 8 bytes "tvspill1", then records:
//
//	uint32 LE length | uint32 LE CRC-32C over (length bytes, payload) | payload
//
// The payload is AppendExchange's encoding. A Ref is segment<<36 | offset
// of the record's header, so Refs grow with every Put. A new segment
// starts once the active one reaches SegmentSize; when the segments
// together exceed MaxBytes, the oldest are deleted whole, and Get of a Ref
// in them reports ErrGone. Records are gathered in a 64 KiB buffer before
// each write; a full buffer is written without the store's lock while a
// second one takes new records, and Get serves records of both from
// memory, so readers never wait on a write. Nothing is fsynced, since the
// files are temporary and only read back by the process that wrote them.
//
// # Exchange encoding
//
// Version byte 1, then every field of decode.Exchange in declaration
// order (see AppendExchange): unsigned integers as uvarints, signed ones
// zig-zag varints, strings and byte slices length-prefixed, slices with
// length+1 so that 0 means nil, optional pointers behind a 0/1 byte, bools
// packed in one flags byte per struct, times as a tag (0 zero time, 1 unix
// nanoseconds, 2 seconds and nanoseconds for instants outside the
// nanosecond range) and addresses as a family byte (0 none, 4, 6 plus zone)
// with the address bytes and a big-endian port. Decoding is strict
// (minimal varints, known flag bits, no trailing bytes), so any input it
// accepts re-encodes to the same bytes.
package spill
