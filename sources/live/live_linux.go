//go:build linux

package live

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/live/filter"
)

// Handle is an open live capture on one interface. ReadPacket is for one
// goroutine; Close may be called from any goroutine and unblocks it.
type Handle struct {
	eth     *pcapgo.EthernetHandle
	snaplen int
	closed  atomic.Bool
	once    sync.Once

	// The socket is bound (to all traffic) before the filter is attached
	// and before kernel timestamps are on, so frames queued in between
	// can carry a read-time timestamp that tells nothing. Every complete
	// frame is therefore run through the same program in user space: the
	// answer is exact and costs a short interpreter run. Frames the snap
	// length cut are trusted to the kernel filter (a user-space run on the
	// cut bytes could wrongly reject them).
	vm *bpf.VM
}

// Open starts capturing on device, keeping at most snaplen bytes of each
// frame (0 means filter.MaxSnapLen) and attaching prog (nil: everything,
// cut to snaplen) as a socket filter. It needs CAP_NET_RAW. Promiscuous mode is requested
// like pcap-release's agent does; when the kernel refuses it the capture
// continues without it.
func Open(device string, snaplen uint32, prog []bpf.Instruction) (*Handle, error) {
	if snaplen == 0 || snaplen > filter.MaxSnapLen {
		snaplen = filter.MaxSnapLen
	}
	if len(prog) == 0 {
		prog = []bpf.Instruction{bpf.RetConstant{Val: snaplen}}
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, openError(device, fmt.Errorf("assemble filter: %w", err))
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		return nil, openError(device, fmt.Errorf("check filter: %w", err))
	}
	eth, err := pcapgo.NewEthernetHandle(device)
	if err != nil {
		return nil, openError(device, err)
	}
	if ifc, err := net.InterfaceByName(device); err == nil && ifc.Flags&net.FlagLoopback != 0 {
		// On loopback every frame is seen twice, leaving and arriving;
		// keep only the arrival, as libpcap does.
		raw = append(dropOutgoing(), raw...)
	}
	if err := eth.SetCaptureLength(int(snaplen)); err != nil {
		_ = eth.Close()
		return nil, openError(device, err)
	}
	if err := eth.SetBPF(raw); err != nil {
		_ = eth.Close()
		return nil, openError(device, fmt.Errorf("attach filter: %w", err))
	}
	h := &Handle{eth: eth, snaplen: int(snaplen), vm: vm}
	_ = eth.SetPromiscuous(true) // best effort, see the doc comment
	_, _ = eth.Stats()           // reset the kernel's drop counter
	return h, nil
}

// ReadPacket blocks until the next frame and returns it as an Ethernet
// packet owned by the caller. VLAN tags the kernel moved into metadata are
// put back into the frame, as libpcap does. After Close it returns
// ErrClosed.
func (h *Handle) ReadPacket() (sources.Packet, error) {
	for {
		data, ci, err := h.eth.ReadPacketData()
		if h.closed.Load() {
			return sources.Packet{}, ErrClosed
		}
		if err != nil {
			return sources.Packet{}, fmt.Errorf("live capture: %w", err)
		}
		if len(data) >= ci.Length {
			if n, err := h.vm.Run(data); err != nil || n == 0 {
				continue
			}
		}
		origLen := ci.Length
		if len(ci.AncillaryData) > 0 {
			if vid, ok := ci.AncillaryData[0].(int); ok && len(data) >= 12 {
				data = insertVLAN(data, uint16(vid))
				origLen += 4
				if len(data) > h.snaplen {
					data = data[:h.snaplen]
				}
			}
		}
		p := packetOf(data, origLen)
		p.Timestamp = ci.Timestamp
		return p, nil
	}
}

// dropOutgoing is a program prefix that rejects frames the host sends
// (packet type PACKET_OUTGOING), read from the kernel's packet metadata.
// It runs only in the kernel: user-space checks of early frames use the
// filter alone.
func dropOutgoing() []bpf.RawInstruction {
	raw, _ := bpf.Assemble([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 0, SkipFalse: 1},
		bpf.RetConstant{Val: 0},
	})
	return raw
}

// insertVLAN returns the frame with an 802.1Q tag after the MAC addresses.
func insertVLAN(frame []byte, vid uint16) []byte {
	out := make([]byte, len(frame)+4)
	copy(out, frame[:12])
	binary.BigEndian.PutUint16(out[12:], 0x8100)
	binary.BigEndian.PutUint16(out[14:], vid)
	copy(out[16:], frame[12:])
	return out
}

// Dropped returns how many frames the kernel dropped since the previous
// call because the socket buffer was full.
func (h *Handle) Dropped() (uint64, error) {
	if h.closed.Load() {
		return 0, ErrClosed
	}
	st, err := h.eth.Stats()
	if err != nil {
		return 0, fmt.Errorf("live capture stats: %w", err)
	}
	return uint64(st.Drops), nil
}

// Close releases the socket; a blocked ReadPacket returns ErrClosed.
func (h *Handle) Close() error {
	var err error
	h.once.Do(func() {
		h.closed.Store(true)
		err = h.eth.Close()
	})
	return err
}
