// Package sources defines what every traffic source produces (Packets,
// Traces, Status notes) and the Source interface the pipeline runs. Each
// kind of source lives in its own subpackage; this package imports nothing
// internal so every other package can depend on it.
package sources

import (
	"context"
	"time"
)

// Link types (LINKTYPE_* values from the tcpdump.org registry) that the
// decoder understands. They are kept here, not taken from gopacket, so that
// sources and decode agree on numbers without importing each other.
const (
	LinkNull     uint16 = 0   // BSD loopback: 4-byte host-order address family
	LinkEthernet uint16 = 1   // Ethernet II, with optional 802.1Q/802.1ad tags
	LinkRaw      uint16 = 101 // raw IPv4 or IPv6, version from the first nibble
	LinkLoop     uint16 = 108 // OpenBSD loopback: 4-byte network-order family
	LinkLinuxSLL uint16 = 113 // Linux cooked capture v1
	LinkIPv4     uint16 = 228 // raw IPv4
	LinkIPv6     uint16 = 229 // raw IPv6
	LinkSLL2     uint16 = 276 // Linux cooked capture v2
)

// Packet is one captured frame. Data is owned by the Packet: sources never
// reuse the backing array after emitting it, so the decoder may keep slices
// of it (bodies) without copying.
type Packet struct {
	// Timestamp is the capture time, with the resolution the source has
	// (nanoseconds for pcapng if_tsresol 9 and nanosecond pcap).
	Timestamp time.Time
	// OrigLen is the length on the wire; len(Data) may be shorter when a
	// snaplen cut the frame.
	OrigLen int
	// LinkType says how to parse Data (one of the Link* constants, or any
	// other LINKTYPE value, which the decoder counts as unsupported).
	LinkType uint16
	// Data holds the captured bytes, starting at the link-layer header.
	Data []byte
	// Source names where the packet came from (file name, pod, agent).
	Source string
	// Interface is the pcapng interface index, 0 for other sources.
	Interface int
	// Ordinal numbers packets of one source from 1, in the order read, so
	// exports can select packets and users can match Wireshark's frame
	// numbers.
	Ordinal uint64
	// Offset is the byte offset of the packet record in the source file,
	// or -1 when the source is not a seekable file.
	Offset int64
}

// Level grades a Status note.
type Level int

// Status levels, from informational to fatal for the source.
const (
	Info Level = iota
	Warning
	Error
)

// String names the level as it appears in JSON output and the status bar.
func (l Level) String() string {
	switch l {
	case Warning:
		return "warning"
	case Error:
		return "error"
	default:
		return "info"
	}
}

// Status is an out-of-band note from a source: a damaged file, a congested
// agent, a pod that went away. Notes are data for the user, never a reason
// to stop other sources.
type Status struct {
	Time    time.Time
	Source  string
	Level   Level
	Kind    string // short machine-readable kind, e.g. "truncated", "CONGESTED"
	Message string
}

// Emitter receives what a Source produces. Packet may block (file sources
// are throttled by the decoder) or drop (live sources count what they
// drop); implementations say which.
type Emitter interface {
	Packet(p Packet)
	Status(s Status)
}

// Source is one producer of traffic. Run reads until the input ends, an
// unrecoverable error occurs, or ctx is cancelled; it returns nil on a
// clean end (EOF, cancellation) and an error the user can act on otherwise.
type Source interface {
	Name() string
	Run(ctx context.Context, emit Emitter) error
}
