package capgen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/sources"
)

// ChurnOptions shape a Churn capture. Zero fields take the defaults.
type ChurnOptions struct {
	Seed uint64
	// Conns is the number of TCP connections (default 400), DNS the
	// number of UDP DNS conversations (default 200).
	Conns, DNS int
	// Span is the capture time the connections start within (default
	// 10 minutes): long enough for idle timeouts (2 minutes) to fire
	// while other connections are busy.
	Span time.Duration
	// Start is the first packet's time (default 2026-01-15T10:00:00Z).
	Start time.Time
	// Source names the packets' source (default "churn").
	Source string
	// Skew, when set, stamps every fourth connection's packets this much
	// earlier than where they sit in the file (as a second capture
	// interface with a slow clock would), so capture times go back and
	// forth.
	Skew time.Duration
}

// Churn builds a synthetic capture of connection churn, the traffic
// where a decoder's clock-driven work happens at once for many
// connections: HTTP/1.1 connections that close with FIN or RST, stay
// open until the end, or go quiet longer than the idle timeout and then
// resume; some lose a segment (a gap flushed after the gap timeout) or
// have two segments swapped; DNS over UDP with and without answers. All
// of it from a seed, in capture-time order.
func Churn(o ChurnOptions) ([]sources.Packet, error) {
	if o.Conns == 0 {
		o.Conns = 400
	}
	if o.DNS == 0 {
		o.DNS = 200
	}
	if o.Span <= 0 {
		o.Span = 10 * time.Minute
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	}
	if o.Source == "" {
		o.Source = "churn"
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x636875726e))
	opts := synth.Options{Source: o.Source}
	var pkts []sources.Packet
	for i := range o.Conns {
		client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i / 200), byte(1 + i%200)}), uint16(30000+r.IntN(30000)))
		server := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + r.IntN(4))}), 80)
		c, err := synth.NewTCP(client, server, opts)
		if err != nil {
			return nil, err
		}
		ts := o.Start.Add(time.Duration(r.Int64N(int64(o.Span))))
		cp := churnConn(r, c, i, ts)
		if o.Skew > 0 && i%4 == 3 {
			for j := range cp {
				cp[j].Interface = 1 // marks the skew until sorted
			}
		}
		pkts = append(pkts, cp...)
	}
	for i := range o.DNS {
		client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(i / 200), byte(1 + i%200)}), uint16(20000+r.IntN(40000)))
		server := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 53}), 53)
		u, err := synth.NewUDP(client, server, opts)
		if err != nil {
			return nil, err
		}
		ts := o.Start.Add(time.Duration(r.Int64N(int64(o.Span))))
		for q := range 1 + r.IntN(3) {
			id := uint16(r.IntN(65536))
			name := fmt.Sprintf("svc%d.churn%d.example.", r.IntN(50), q)
			query, resp := dnsPair(id, name, netip.AddrFrom4([4]byte{192, 0, 2, byte(r.IntN(256))}))
			p, err := u.Send(decode.ClientToServer, query, ts)
			if err != nil {
				return nil, err
			}
			pkts = append(pkts, p)
			if r.IntN(5) > 0 {
				p, err := u.Send(decode.ServerToClient, resp, ts.Add(time.Duration(1+r.IntN(30))*time.Millisecond))
				if err != nil {
					return nil, err
				}
				pkts = append(pkts, p)
			}
			ts = ts.Add(time.Duration(r.IntN(90)) * time.Second)
		}
	}
	slices.SortStableFunc(pkts, func(a, b sources.Packet) int { return a.Timestamp.Compare(b.Timestamp) })
	for i := range pkts {
		pkts[i].Ordinal = uint64(i + 1)
		if pkts[i].Interface == 1 {
			pkts[i].Interface = 0
			pkts[i].Timestamp = pkts[i].Timestamp.Add(-o.Skew)
		}
	}
	return pkts, nil
}

// churnConn returns the packets of one HTTP/1.1 connection starting at ts.
func churnConn(r *rand.Rand, c *synth.TCP, n int, ts time.Time) []sources.Packet {
	var out []sources.Packet
	if r.IntN(10) > 0 {
		out = append(out, c.Open(ts)...)
	} // else joined mid-stream: no handshake
	lossy := r.IntN(8) == 0
	swapped := r.IntN(8) == 0
	reqs := 1 + r.IntN(6)
	for q := range reqs {
		ts = ts.Add(time.Duration(1+r.IntN(50)) * time.Millisecond)
		body := strings.Repeat(fmt.Sprintf("conn %d request %d;", n, q), r.IntN(400))
		req := fmt.Sprintf("GET /churn/%d/%d?token=%x HTTP/1.1\r\nHost: churn.example\r\nAuthorization: Bearer %x\r\n\r\n", n, q, r.Uint32(), r.Uint64())
		resp := fmt.Sprintf("HTTP/1.1 %d OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", []int{200, 200, 200, 404, 500}[r.IntN(5)], len(body), body)
		out = append(out, c.Send(decode.ClientToServer, []byte(req), ts)...)
		ts = ts.Add(time.Duration(1+r.IntN(200)) * time.Millisecond)
		seg := c.Send(decode.ServerToClient, []byte(resp), ts)
		switch {
		case lossy && len(seg) > 2:
			k := 1 + r.IntN(len(seg)-2)
			seg = append(seg[:k:k], seg[k+1:]...)
			lossy = false
		case swapped && len(seg) > 2:
			k := r.IntN(len(seg) - 1)
			seg[k], seg[k+1] = seg[k+1], seg[k]
			seg[k].Timestamp, seg[k+1].Timestamp = seg[k+1].Timestamp, seg[k].Timestamp
			swapped = false
		}
		out = append(out, seg...)
		ts = seg[len(seg)-1].Timestamp
		switch r.IntN(12) {
		case 0: // quiet past the idle timeout, then carry on
			ts = ts.Add(time.Duration(125+r.IntN(60)) * time.Second)
		case 1, 2:
			ts = ts.Add(time.Duration(r.IntN(20)) * time.Second)
		}
	}
	ts = ts.Add(time.Duration(1+r.IntN(100)) * time.Millisecond)
	switch r.IntN(6) {
	case 0:
		out = append(out, c.Reset(decode.Direction(r.IntN(2)), ts)...)
	case 1: // left open
	default:
		out = append(out, c.Close(ts)...)
	}
	return out
}

// dnsPair returns a query for name and its answer.
func dnsPair(id uint16, name string, addr netip.Addr) (query, resp []byte) {
	q := dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	_ = b.StartQuestions()
	_ = b.Question(q)
	query, _ = b.Finish()
	b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: true, RecursionDesired: true, RecursionAvailable: true})
	_ = b.StartQuestions()
	_ = b.Question(q)
	_ = b.StartAnswers()
	_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: addr.As4()})
	resp, _ = b.Finish()
	return query, resp
}
