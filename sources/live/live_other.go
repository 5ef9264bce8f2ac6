//go:build !linux

package live

import (
	"github.com/tapview/tapview/sources"
	"golang.org/x/net/bpf"
)

// Handle is a live capture; on this system it cannot be opened.
type Handle struct{}

// Open always fails: AF_PACKET exists only on Linux.
func Open(device string, snaplen uint32, prog []bpf.Instruction) (*Handle, error) {
	return nil, openError(device, ErrUnsupported)
}

// ReadPacket never returns a packet.
func (h *Handle) ReadPacket() (sources.Packet, error) { return sources.Packet{}, ErrClosed }

// Close does nothing.
func (h *Handle) Close() error { return nil }

// Dropped reports no drops.
func (h *Handle) Dropped() (uint64, error) { return 0, nil }
