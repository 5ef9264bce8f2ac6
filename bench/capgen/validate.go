package capgen

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/tapview/tapview/bench/tapdecode"
	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/sources"
)

// Validate decodes every unit on its own connection with tapview's
// decoder and records how many final exchanges it yields. Every HTTP/1
// unit must be exactly one complete exchange and every connection unit
// must decode to complete exchanges only: a generator that promises N
// exchanges must deliver N.
func (c *Corpus) Validate() error {
	for i := range c.HTTP1 {
		if err := c.HTTP1[i].measure(); err != nil {
			return err
		}
		if c.HTTP1[i].Exchanges != 1 {
			return fmt.Errorf("capgen: HTTP/1 unit %d decodes to %d exchanges, want 1", i, c.HTTP1[i].Exchanges)
		}
	}
	for _, us := range [][]Unit{c.H2C, c.GRPC} {
		for i := range us {
			if err := us[i].measure(); err != nil {
				return err
			}
		}
	}
	return nil
}

var (
	validClient = netip.MustParseAddrPort("127.0.0.1:40000")
	validServer = netip.MustParseAddrPort("127.0.0.1:8080")
)

// measure decodes u alone and sets Exchanges.
func (u *Unit) measure() error {
	t, err := synth.NewTCP(validClient, validServer, synth.Options{})
	if err != nil {
		return fmt.Errorf("capgen: %w", err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pkts := t.Open(base)
	pkts = u.appendPackets(pkts, t, base)
	pkts = append(pkts, t.Close(pkts[len(pkts)-1].Timestamp)...)
	for i := range pkts {
		pkts[i].Ordinal = uint64(i + 1)
	}
	cnt := tapdecode.Packets(pkts)
	if n := cnt.ByState[decode.Complete]; n != cnt.Exchanges || n == 0 {
		return fmt.Errorf("capgen: recorded %s unit decodes to %d exchanges, %d complete (%v; notes %q)",
			u.Proto, cnt.Exchanges, n, cnt.ByState, cnt.Notes)
	}
	u.Exchanges = int(cnt.Exchanges)
	return nil
}

// appendPackets appends the packets of u's events sent on t, the first
// event at base.
func (u *Unit) appendPackets(pkts []sources.Packet, t *synth.TCP, base time.Time) []sources.Packet {
	for _, e := range u.Events {
		pkts = append(pkts, t.Send(e.Dir, e.Data, base.Add(e.At))...)
	}
	return pkts
}

// Packets returns u's traffic as one complete connection between client
// and server (handshake, the recorded events from start, teardown), for
// benchmarks that decode one protocol without a whole replay.
func (u *Unit) Packets(client, server netip.AddrPort, start time.Time) ([]sources.Packet, error) {
	t, err := synth.NewTCP(client, server, synth.Options{Source: "lo"})
	if err != nil {
		return nil, fmt.Errorf("capgen: %w", err)
	}
	pkts := t.Open(start)
	pkts = u.appendPackets(pkts, t, pkts[len(pkts)-1].Timestamp.Add(synth.Tick))
	return append(pkts, t.Close(pkts[len(pkts)-1].Timestamp)...), nil
}
