// Package live captures packets from a network interface of this host with
// an AF_PACKET socket (gopacket's pure-Go pcapgo.EthernetHandle), so agents
// capture without libpcap and without cgo. Filters arrive as classic BPF
// (see package filter) and run in the kernel.
package live

import (
	"errors"
	"fmt"

	"github.com/tapview/tapview/sources"
)

// ErrClosed is returned by ReadPacket after Close.
var ErrClosed = errors.New("live capture: handle closed")

// ErrUnsupported is returned by Open on systems without AF_PACKET.
var ErrUnsupported = errors.New("live capture: only supported on Linux")

// openError wraps a failure to open a device; the agent answers it as a
// failed start rather than an invalid request.
func openError(device string, err error) error {
	return fmt.Errorf("live capture on %q: %w", device, err)
}

// packetOf fills the fields every live packet shares.
func packetOf(data []byte, origLen int) sources.Packet {
	if origLen < len(data) {
		origLen = len(data)
	}
	return sources.Packet{OrigLen: origLen, LinkType: sources.LinkEthernet, Data: data, Offset: -1}
}
