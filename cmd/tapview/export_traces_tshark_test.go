package main

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/export/tracemask/tracemasktest"
)

// socketTracesAsPcapng writes the connections that socket traces carry
// as a pcapng (export/synth's TCP packets around the traced bytes, the
// remote end as the client, as the corpus traces are a listener's), so
// tshark can read a trace's bytes as it reads a capture.
func socketTracesAsPcapng(t *testing.T, traces []*tapv3.TraceWrapper, path string) (connections int) {
	t.Helper()
	type conn struct {
		c   *tapv3.Connection
		evs []*tapv3.SocketEvent
	}
	var order []uint64
	conns := map[uint64]*conn{}
	get := func(id uint64) *conn {
		if conns[id] == nil {
			conns[id] = &conn{}
			order = append(order, id)
		}
		return conns[id]
	}
	for _, w := range traces {
		if sb := w.GetSocketBufferedTrace(); sb != nil {
			c := get(sb.GetTraceId())
			c.c, c.evs = sb.GetConnection(), append(c.evs, sb.GetEvents()...)
		}
		if ss := w.GetSocketStreamedTraceSegment(); ss != nil {
			c := get(ss.GetTraceId())
			if ss.GetConnection() != nil {
				c.c = ss.GetConnection()
			}
			if ev := ss.GetEvent(); ev != nil {
				c.evs = append(c.evs, ev)
			}
			c.evs = append(c.evs, ss.GetEvents().GetEvents()...)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	pw, err := pcapw.NewPcapng(bw, pcapw.NgOptions{Application: "tapview test"})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range order {
		c := conns[id]
		ap := func(sa interface {
			GetAddress() string
			GetPortValue() uint32
		}) netip.AddrPort {
			ip, err := netip.ParseAddr(sa.GetAddress())
			if err != nil {
				t.Fatalf("trace %d: address %q", id, sa.GetAddress())
			}
			return netip.AddrPortFrom(ip, uint16(sa.GetPortValue()))
		}
		tcp, err := synth.NewTCP(ap(c.c.GetRemoteAddress().GetSocketAddress()), ap(c.c.GetLocalAddress().GetSocketAddress()), synth.Options{Source: "taps"})
		if err != nil {
			t.Fatal(err)
		}
		pkts := tcp.Open(ts)
		for _, ev := range c.evs {
			ts = ts.Add(time.Millisecond)
			if r := ev.GetRead(); r != nil {
				pkts = append(pkts, tcp.Send(decode.ClientToServer, r.GetData().GetAsBytes(), ts)...)
			}
			if w := ev.GetWrite(); w != nil {
				pkts = append(pkts, tcp.Send(decode.ServerToClient, w.GetData().GetAsBytes(), ts)...)
			}
		}
		ts = ts.Add(time.Millisecond)
		pkts = append(pkts, tcp.Close(ts)...)
		for _, p := range pkts {
			if err := pw.WritePacket(p, ""); err != nil {
				t.Fatal(err)
			}
		}
		ts = ts.Add(time.Second)
	}
	if err := pw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return len(order)
}

// TestExportTracesSocketTshark reads the socket traces of the leak
// corpus, exported masked and with --no-mask, the way tshark reads
// captures (the traced bytes in TCP packets; HTTP/2 after HPACK,
// WebSocket unmasked and inflated, bodies de-chunked and uncompressed,
// streams followed): the masked export shows none of the planted
// secrets, the unmasked one all.
func TestExportTracesSocketTshark(t *testing.T) {
	needTshark(t)
	dir := t.TempDir()
	lt := leakTraces[1]
	in := leakTracePath(lt.file)
	var decodeAs []string
	for _, c := range leakCaptures {
		decodeAs = append(decodeAs, c.decodeAs...)
	}
	for _, masked := range []bool{true, false} {
		name := map[bool]string{true: "masked", false: "plain"}[masked]
		t.Run(name, func(t *testing.T) {
			t.Parallel() // tshark is most of the time
			tsharkSocketTraces(t, in, filepath.Join(dir, name+".pb_length_delimited"), masked, decodeAs, lt.captures)
		})
	}
}

// tsharkSocketTraces exports the socket traces in to out (masked or
// not) and counts the secrets of captures tshark reads in them.
func tsharkSocketTraces(t *testing.T, in, out string, masked bool, decodeAs, captures []string) {
	args := []string{in, "-w", out}
	if !masked {
		args = append(args, "--no-mask")
	}
	mustExport(t, args...)
	pcap := out + ".pcapng"
	streams := socketTracesAsPcapng(t, tracemasktest.ReadFile(t, out), pcap)
	view := tsharkStreamsView(t, pcap, decodeAs, streams)
	secrets := loadPlanted(t)
	seen := piecesIn(view, secrets)
	found, planted := 0, 0
	for _, s := range secrets {
		if !slices.Contains(captures, s.capture) {
			continue
		}
		planted++
		if seen[s] {
			found++
			if masked {
				t.Errorf("masked socket traces: tshark reads secret %s (%s)", s.name, s.where)
			}
		} else if !masked {
			t.Errorf("--no-mask socket traces: tshark does not find secret %s (%s): the test would not see it leak", s.name, s.where)
		}
	}
	t.Logf("masked=%v: tshark finds %d of %d planted secrets in the socket traces", masked, found, planted)
}

// tsharkStreamsView is tsharkView (every field of every packet, every
// data source's bytes, each stream followed per direction) for a
// capture of a known number of TCP streams, parsed without regular
// expressions: under -race the regexp walk of megabytes of tshark output
// took most of a test's time.
func tsharkStreamsView(t *testing.T, path string, decodeAs []string, streams int) []byte {
	t.Helper()
	args := []string{"-n", "-r", path, "-o", "tcp.reassemble_out_of_order:TRUE"}
	for _, d := range decodeAs {
		args = append(args, "-d", d)
	}
	args = append(args, "-V", "-x")
	for i := range streams {
		args = append(args, "-z", "follow,tcp,raw,"+strconv.Itoa(i))
	}
	full := runTshark(t, args...)
	var out bytes.Buffer
	out.Write(full)
	for _, line := range bytes.Split(full, []byte("\n")) {
		// A hex dump line: offset, two spaces, up to 16 "hh " groups.
		i := bytes.Index(line, []byte("  "))
		if i < 4 || i > 8 || !isHex(line[:i]) {
			out.WriteByte('\n')
			continue
		}
		for rest := line[i+2:]; len(rest) >= 3 && rest[2] == ' ' && isHex(rest[:2]); rest = rest[3:] {
			b, _ := strconv.ParseUint(string(rest[:2]), 16, 8)
			out.WriteByte(byte(b))
		}
	}
	out.Write(followDirections(full))
	return out.Bytes()
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return len(b) > 0
}

// piecesIn returns the secrets any of whose pieces is in view, in one
// pass over it.
func piecesIn(view []byte, secrets []*plantedSecret) map[*plantedSecret]bool {
	owner := map[string]*plantedSecret{}
	for _, s := range secrets {
		for _, p := range s.pieces {
			owner[p] = s
		}
	}
	found := map[*plantedSecret]bool{}
	for i := 0; i+leakWindow <= len(view); i++ {
		if s, ok := owner[string(view[i:i+leakWindow])]; ok {
			found[s] = true
		}
	}
	return found
}
