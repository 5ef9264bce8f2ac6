// Command halfopen writes the captures behind issue 15's per-connection
// checks, so bench/halfopen.sh can time tapview on them:
//
//	go run ./bench/halfopen -mode halfopen -flows 200000 -o /tmp/halfopen.pcap
//	go run ./bench/halfopen -mode ordinary -packets 580000 -o /tmp/ordinary.pcap
//	go run ./bench/halfopen -mode interim -n 100000 -o /tmp/interim.pcap
//
// halfopen is a SYN flood mixed with stalled clients: many client
// addresses and ports open connections to three server ports and never
// close them (some send only a SYN and its retransmission, some finish
// the handshake, some also send a request that is never answered), all
// within one idle timeout, so every flow is still open at the end.
// ordinary is real recorded HTTP/1.1 keep-alive traffic (bench/capgen)
// with about the same number of packets, for comparison. interim is one
// real net/http connection on loopback whose server answers an
// "Expect: 100-continue" request with n "100 Continue" interim responses
// before the final one, recorded with export/synth.
package main

import (
	"bufio"
	"container/heap"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/tapview/tapview/bench/capgen"
	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/sources"
)

// start is the first packet's time, fixed so captures are reproducible.
var start = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

func main() {
	mode := flag.String("mode", "halfopen", "capture to write: halfopen, ordinary or interim")
	out := flag.String("o", "", "pcap `FILE` to write")
	flows := flag.Int("flows", 200000, "half-open flows (halfopen)")
	span := flag.Duration("span", 100*time.Second, "capture time the half-open flows start over (keep it under tapview's 2m idle timeout)")
	packets := flag.Int64("packets", 0, "packets to write, about (ordinary)")
	n := flag.Int("n", 100000, "interim responses on the connection (interim)")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: halfopen -mode halfopen|ordinary|interim -o FILE")
		os.Exit(2)
	}
	f, err := os.Create(*out)
	if err != nil {
		fail(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	pw, err := pcapw.NewPcap(bw, sources.LinkEthernet, 0, true)
	if err != nil {
		fail(err)
	}
	var count int64
	switch *mode {
	case "halfopen":
		count, err = halfOpen(pw, *flows, *span, *seed)
	case "ordinary":
		count, err = ordinary(pw, *packets, *seed)
	case "interim":
		count, err = interim(pw, *n)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err == nil {
		err = pw.Flush()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s: %d packets\n", *out, count)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "halfopen:", err)
	os.Exit(1)
}

// pending is a packet waiting for its timestamp, so packets of many
// flows (a SYN retransmitted a second later) go out in time order.
type pending []sources.Packet

func (h pending) Len() int           { return len(h) }
func (h pending) Less(i, j int) bool { return h[i].Timestamp.Before(h[j].Timestamp) }
func (h pending) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *pending) Push(x any)        { *h = append(*h, x.(sources.Packet)) }
func (h *pending) Pop() any {
	old := *h
	p := old[len(old)-1]
	*h = old[:len(old)-1]
	return p
}

// halfOpen writes flows connections that never end. Kinds, by share:
// 50% a SYN and its retransmission one second later (no answer, like a
// scan or a SYN flood from spoofed addresses); 30% a completed handshake
// and nothing else; 20% a handshake and one HTTP request the server
// acknowledges but never answers.
func halfOpen(w pcapw.PacketWriter, flows int, span time.Duration, seed uint64) (int64, error) {
	r := rand.New(rand.NewPCG(seed, 15))
	servers := []netip.AddrPort{
		netip.MustParseAddrPort("10.0.0.10:80"),
		netip.MustParseAddrPort("10.0.0.10:443"),
		netip.MustParseAddrPort("10.0.0.11:8080"),
	}
	step := span / time.Duration(max(flows, 1))
	var h pending
	var written int64
	emit := func(until time.Time) error {
		for len(h) > 0 && !h[0].Timestamp.After(until) {
			p := heap.Pop(&h).(sources.Packet)
			written++
			p.Ordinal = uint64(written)
			if err := w.WritePacket(p, ""); err != nil {
				return err
			}
		}
		return nil
	}
	for i := 0; i < flows; i++ {
		ts := start.Add(time.Duration(i)*step + time.Duration(r.Int64N(int64(step)+1)))
		if err := emit(ts); err != nil {
			return written, err
		}
		// Clients spread over a /16 with ephemeral ports; a pair never
		// repeats because the port follows the flow number.
		ip := netip.AddrFrom4([4]byte{172, 16, byte(r.IntN(256)), byte(1 + r.IntN(254))})
		client := netip.AddrPortFrom(ip, uint16(32768+i%28000))
		t, err := synth.NewTCP(client, servers[r.IntN(len(servers))], synth.Options{})
		if err != nil {
			return written, err
		}
		hs := t.Open(ts)
		var pkts []sources.Packet
		switch k := r.IntN(10); {
		case k < 5:
			syn := hs[0]
			again := syn
			again.Timestamp = syn.Timestamp.Add(time.Second)
			pkts = []sources.Packet{syn, again}
		case k < 8:
			pkts = hs
		default:
			rtt := time.Duration(50+r.IntN(400)) * time.Microsecond
			req := fmt.Sprintf("GET /api/items/%d HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n", r.IntN(100000))
			pkts = append(hs, t.Send(decode.ClientToServer, []byte(req), ts.Add(rtt))...)
		}
		for _, p := range pkts {
			heap.Push(&h, p)
		}
	}
	return written, emit(time.Unix(1<<40, 0))
}

// ordinary writes recorded HTTP/1.1 keep-alive traffic with about the
// given number of packets: a first replay into a counter measures packets
// per exchange, the second writes the scaled number of exchanges.
func ordinary(w pcapw.PacketWriter, packets int64, seed uint64) (int64, error) {
	if packets <= 0 {
		return 0, errors.New("ordinary needs -packets")
	}
	corpus, err := capgen.Record(context.Background(), capgen.RecordOptions{Seed: seed, H2C: -1, GRPC: -1})
	if err != nil {
		return 0, err
	}
	opts := capgen.ReplayOptions{Requests: 20000, Seed: seed}
	trial, err := capgen.Replay(discard{}, corpus, opts)
	if err != nil {
		return 0, err
	}
	opts.Requests = max(1, packets*trial.Exchanges/trial.Packets)
	st, err := capgen.Replay(w, corpus, opts)
	return st.Packets, err
}

// discard is a PacketWriter that writes nothing.
type discard struct{}

func (discard) WritePacket(sources.Packet, string) error { return nil }
func (discard) Flush() error                             { return nil }

// interim records one connection between real net/http peers on
// loopback: the client POSTs with "Expect: 100-continue", the server
// writes n "100 Continue" interim responses (each flushed, as net/http
// does for 1xx), then 200 OK. The client reads them all through
// httptrace's Got1xxResponse, which lifts net/http's limit of five.
func interim(w pcapw.PacketWriter, n int) (int64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		for i := 0; i < n; i++ {
			rw.WriteHeader(http.StatusContinue)
		}
		body, _ := io.ReadAll(req.Body)
		rw.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(rw, "stored %d bytes\n", len(body))
	})}
	go srv.Serve(ln)
	defer srv.Close()

	rec := synth.NewRecording(synth.Options{})
	tr := &http.Transport{DialContext: rec.DialContext, ExpectContinueTimeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	got := 0
	trace := &httptrace.ClientTrace{Got1xxResponse: func(int, textproto.MIMEHeader) error { got++; return nil }}
	ctx := httptrace.WithClientTrace(context.Background(), trace)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+ln.Addr().String()+"/upload", strings.NewReader(`{"name":"report.csv","size":42}`))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Expect", "100-continue")
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	tr.CloseIdleConnections()
	if got != n {
		return 0, fmt.Errorf("client saw %d interim responses, want %d", got, n)
	}
	pkts := rec.Packets()
	synth.ShiftTo(pkts, start)
	for _, p := range pkts {
		if err := w.WritePacket(p, ""); err != nil {
			return 0, err
		}
	}
	return int64(len(pkts)), nil
}
