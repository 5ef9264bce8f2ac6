package http1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/tapview/tapview/decode"
)

// corpusDir is the shared capture corpus (read-only).
func corpusDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "corpus")
	if d := os.Getenv("TAPVIEW_CORPUS"); d != "" {
		dir = d
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.tsv")); err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	return dir
}

// manifest reads MANIFEST.tsv into file -> column -> value.
func manifest(t testing.TB, dir string) map[string]map[string]string {
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var cols []string
	out := map[string]map[string]string{}
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if cols == nil {
			cols = fields
			continue
		}
		row := map[string]string{}
		for i, v := range fields {
			if i < len(cols) {
				row[cols[i]] = v
			}
		}
		out[row["file"]] = row
	}
	return out
}

// delivery is one call to make on a StreamHandler.
type delivery struct {
	dir  decode.Direction // as first guessed (SYN sender or first sender = client)
	data []byte
	gap  int
	ts   time.Time
}

// tcpDir is a minimal per-direction reassembler for test fixtures: it
// drops retransmitted bytes, holds out-of-order segments until the hole
// fills, and reports bytes a snaplen cut off as gaps.
type tcpDir struct {
	init bool
	next uint32
	held map[uint32]heldSeg
}

type heldSeg struct {
	data    []byte
	missing int
	ts      time.Time
}

func (d *tcpDir) push(dir decode.Direction, seq uint32, data []byte, missing int, ts time.Time, out *[]delivery) {
	if !d.init {
		d.init, d.next = true, seq
	}
	diff := int32(seq - d.next)
	switch {
	case diff > 0:
		if d.held == nil {
			d.held = map[uint32]heldSeg{}
		}
		if _, ok := d.held[seq]; !ok {
			d.held[seq] = heldSeg{bytes.Clone(data), missing, ts}
		}
		return
	case diff < 0:
		skip := int(-diff)
		if skip >= len(data)+missing {
			return // retransmission of bytes already delivered
		}
		if skip >= len(data) {
			missing -= skip - len(data)
			data = nil
		} else {
			data = data[skip:]
		}
	}
	d.emit(dir, data, missing, ts, out)
	for {
		h, ok := d.held[d.next]
		if !ok {
			// A held segment may overlap next (retransmission that starts
			// earlier): take any that begins at or before next.
			found := false
			for s, hs := range d.held {
				if int32(s-d.next) < 0 {
					delete(d.held, s)
					if int32(s+uint32(len(hs.data)+hs.missing)-d.next) > 0 {
						d.push(dir, s, hs.data, hs.missing, hs.ts, out)
						found = true
						break
					}
				}
			}
			if !found {
				return
			}
			continue
		}
		delete(d.held, d.next)
		d.emit(dir, h.data, h.missing, h.ts, out)
	}
}

func (d *tcpDir) emit(dir decode.Direction, data []byte, missing int, ts time.Time, out *[]delivery) {
	if len(data) > 0 {
		*out = append(*out, delivery{dir: dir, data: bytes.Clone(data), ts: ts})
	}
	if missing > 0 {
		*out = append(*out, delivery{dir: dir, gap: missing, ts: ts})
	}
	d.next += uint32(len(data) + missing)
}

// flush reports what is still held after the capture ended, with gaps.
func (d *tcpDir) flush(dir decode.Direction, out *[]delivery) {
	for len(d.held) > 0 {
		seqs := make([]uint32, 0, len(d.held))
		for s := range d.held {
			seqs = append(seqs, s)
		}
		sort.Slice(seqs, func(i, j int) bool { return int32(seqs[i]-d.next) < int32(seqs[j]-d.next) })
		s := seqs[0]
		h := d.held[s]
		delete(d.held, s)
		if n := int32(s - d.next); n > 0 {
			*out = append(*out, delivery{dir: dir, gap: int(n), ts: h.ts})
			d.next = s
		}
		d.push(dir, s, h.data, h.missing, h.ts, out)
	}
}

// capFlow is one TCP connection of a capture.
type capFlow struct {
	client  string // "ip:port" of the side taken as client
	sawSYN  bool
	reset   bool
	dirs    [2]tcpDir
	deliver []delivery
	first   time.Time
}

// readFlows reassembles every TCP connection of a pcap file.
func readFlows(t testing.TB, path string) []*capFlow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	flows := map[string]*capFlow{}
	var order []*capFlow
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Logf("%s: stop reading: %v", filepath.Base(path), err)
			}
			break
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		tl, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tl == nil || pkt.NetworkLayer() == nil {
			continue
		}
		src := pkt.NetworkLayer().NetworkFlow().Src().String() + ":" + strconv.Itoa(int(tl.SrcPort))
		dst := pkt.NetworkLayer().NetworkFlow().Dst().String() + ":" + strconv.Itoa(int(tl.DstPort))
		key := src + "|" + dst
		if dst < src {
			key = dst + "|" + src
		}
		cf := flows[key]
		if cf == nil {
			cf = &capFlow{client: src, first: ci.Timestamp}
			flows[key] = cf
			order = append(order, cf)
		}
		if tl.SYN && !tl.ACK && !cf.sawSYN {
			cf.sawSYN, cf.client = true, src
		}
		if tl.RST {
			cf.reset = true
		}
		dir := decode.ClientToServer
		if src != cf.client {
			dir = decode.ServerToClient
		}
		d := &cf.dirs[dir]
		if tl.SYN {
			d.init, d.next = true, tl.Seq+1
			continue
		}
		payload := tl.Payload
		missing := 0
		if ip4, ok := pkt.NetworkLayer().(*layers.IPv4); ok {
			want := int(ip4.Length) - int(ip4.IHL)*4 - int(tl.DataOffset)*4
			if want > len(payload) {
				missing = want - len(payload)
			}
		}
		if len(payload) == 0 && missing == 0 {
			continue
		}
		d.push(dir, tl.Seq, payload, missing, ci.Timestamp, &cf.deliver)
	}
	for _, cf := range order {
		for dir := range cf.dirs {
			cf.dirs[dir].flush(decode.Direction(dir), &cf.deliver)
		}
	}
	return order
}

// parseFlow runs Detect and the handler over one reassembled connection
// the way the TCP layer would, and returns the fake Conn.
func parseFlow(t testing.TB, p *Parser, cf *capFlow) (*fakeConn, bool) {
	c := newFakeConn(t)
	c.flow.Partial = !cf.sawSYN
	c.handoffs = map[string]*recorder{"h2": {}, "ws": {}}
	var first [2][]byte
	for _, d := range cf.deliver {
		if d.data != nil && len(first[d.dir]) < 4096 {
			first[d.dir] = append(first[d.dir], d.data...)
		}
	}
	yes := false
	for dir := range first {
		if len(first[dir]) > 0 && p.Detect(&c.flow, decode.Direction(dir), first[dir]) == decode.Yes {
			yes = true
		}
	}
	if !yes {
		return c, false
	}
	h := p.New(c)
	last := cf.first
	for _, d := range cf.deliver {
		dir := d.dir
		if c.swaps%2 == 1 {
			dir = dir.Reverse()
		}
		if d.data != nil {
			h.Data(dir, d.data, d.ts)
		} else {
			h.Gap(dir, d.gap, d.ts)
		}
		last = d.ts
	}
	st := decode.FlowClosed
	if cf.reset {
		st = decode.FlowReset
	}
	h.End(st, last)
	c.check()
	return c, true
}

// corpusFiles are the captures whose HTTP/1 traffic is in clear text TCP.
var corpusFiles = []string{
	"http11_get_plain.pcap",
	"http11_post_form.pcap",
	"http11_get_gzip.pcap",
	"http11_keepalive_5req_1conn.pcap",
	"http11_chunked_gzip_100continue_multipart.pcap",
	"http11_pipelined_40req_retrans.pcap",
	"http11_range_keepalive_out_of_order.pcap",
	"http11_download_retrans_ooo.pcap",
	"http11_ipv6_loopback_chunked_midstream.pcap",
	"http11_vlan_8021q.pcap",
	"http11_qinq_8021ad.pcap",
	"http11_snaplen96_truncated.pcap",
	"http11_file_cut_short_mid_record.pcap",
	"http11_sll2_download.pcap",
	"http11_nsec_get_to_port22.pcap",
	"h2c_upgrade_from_http11.pcap",
	"websocket_basic.pcap",
	"websocket_permessage_deflate.pcap",
	"websocket_ping_pong_sll.pcap",
	"mix_non_http_services.pcap",
}

func TestCorpusMessageCounts(t *testing.T) {
	dir := corpusDir(t)
	rows := manifest(t, dir)
	p := New()
	for _, name := range corpusFiles {
		t.Run(name, func(t *testing.T) {
			row := rows[name]
			if row == nil {
				t.Fatalf("%s not in MANIFEST", name)
			}
			var reqs, resps int
			var states []string
			for _, cf := range readFlows(t, filepath.Join(dir, name)) {
				c, ok := parseFlow(t, p, cf)
				if !ok {
					continue
				}
				for _, x := range c.exchanges() {
					if x.Request != nil {
						reqs++
					}
					if x.Response != nil {
						resps++
					}
					resps += len(x.Interim)
					states = append(states, fmt.Sprintf("%s %s %d %s %s", x.Method(), x.Path(), x.Status(), x.State, x.Error))
				}
			}
			wantReq, _ := strconv.Atoi(row["http_request_msgs"])
			wantResp, _ := strconv.Atoi(row["http_response_msgs"])
			if reqs != wantReq || resps != wantResp {
				for _, s := range states {
					t.Log(s)
				}
				t.Fatalf("requests %d responses %d; tshark says %d / %d", reqs, resps, wantReq, wantResp)
			}
		})
	}
}

// corpusConns parses one capture and returns the Conn of every HTTP/1
// connection.
func corpusConns(t *testing.T, name string) []*fakeConn {
	t.Helper()
	dir := corpusDir(t)
	var out []*fakeConn
	p := New()
	for _, cf := range readFlows(t, filepath.Join(dir, name)) {
		if c, ok := parseFlow(t, p, cf); ok {
			out = append(out, c)
		}
	}
	return out
}

// corpusExchanges parses one capture and returns every exchange.
func corpusExchanges(t *testing.T, name string) []*decode.Exchange {
	t.Helper()
	var out []*decode.Exchange
	for _, c := range corpusConns(t, name) {
		out = append(out, c.exchanges()...)
	}
	return out
}

func TestCorpusDetails(t *testing.T) {
	t.Run("get_plain", func(t *testing.T) {
		x := one(t, corpusExchanges(t, "http11_get_plain.pcap"))
		if x.State != decode.Complete || x.Response.BodySize != 4705 || len(x.Response.Body) != 4705 || x.Response.DecodedSize != 4705 {
			t.Fatalf("%s body %d", x.State, x.Response.BodySize)
		}
		if x.Latency() <= 0 || x.Request.Host == "" {
			t.Fatalf("latency %v host %q", x.Latency(), x.Request.Host)
		}
	})
	t.Run("get_gzip", func(t *testing.T) {
		x := one(t, corpusExchanges(t, "http11_get_gzip.pcap"))
		p := x.Response
		if x.State != decode.Complete || len(p.ContentEncoding) != 1 || p.ContentEncoding[0] != "gzip" || p.BodySize != 165 {
			t.Fatalf("%s %v size %d", x.State, p.ContentEncoding, p.BodySize)
		}
		if p.DecodedSize <= p.BodySize || p.DecodeError != "" {
			t.Fatalf("decoded %d (%s)", p.DecodedSize, p.DecodeError)
		}
	})
	t.Run("pipelined", func(t *testing.T) {
		xs := corpusExchanges(t, "http11_pipelined_40req_retrans.pcap")
		if len(xs) != 40 {
			t.Fatalf("%d exchanges", len(xs))
		}
		for _, x := range xs {
			if x.State != decode.Complete || x.Status() != 404 {
				t.Fatalf("%s %d %s", x.Path(), x.Status(), x.State)
			}
		}
	})
	t.Run("continue", func(t *testing.T) {
		xs := corpusExchanges(t, "http11_chunked_gzip_100continue_multipart.pcap")
		interims := 0
		for _, x := range xs {
			interims += len(x.Interim)
			if x.State != decode.Complete {
				t.Errorf("%s %s %d: %s %s", x.Method(), x.Path(), x.Status(), x.State, x.Error)
			}
			for _, m := range []*decode.Message{x.Request, x.Response} {
				if m != nil && len(m.ContentEncoding) > 0 && m.DecodedSize < 0 {
					t.Errorf("%s %s: decode failed: %s", x.Method(), x.Path(), m.DecodeError)
				}
			}
		}
		if len(xs) != 10 || interims != 3 {
			t.Fatalf("%d exchanges, %d interim", len(xs), interims)
		}
	})
	t.Run("port22", func(t *testing.T) {
		x := one(t, corpusExchanges(t, "http11_nsec_get_to_port22.pcap"))
		if x.State != decode.Orphan || !strings.Contains(x.Error, "SSH") {
			t.Fatalf("%s %q", x.State, x.Error)
		}
	})
	t.Run("h2c_upgrade", func(t *testing.T) {
		cs := corpusConns(t, "h2c_upgrade_from_http11.pcap")
		if len(cs) != 1 {
			t.Fatalf("%d connections", len(cs))
		}
		x := one(t, cs[0].exchanges())
		if x.Status() != 101 || x.State != decode.Complete {
			t.Fatalf("%d %s", x.Status(), x.State)
		}
		h2 := cs[0].handoffs["h2"]
		if !bytes.HasPrefix(h2.data[decode.ClientToServer].Bytes(), []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")) {
			t.Fatalf("h2 handler got client bytes %q", clip(h2.data[decode.ClientToServer].Bytes()))
		}
		// The server's first HTTP/2 frame is SETTINGS (type 4).
		if b := h2.data[decode.ServerToClient].Bytes(); len(b) < 9 || b[3] != 4 {
			t.Fatalf("h2 handler got server bytes %q", clip(b))
		}
	})
	t.Run("websocket", func(t *testing.T) {
		for _, name := range []string{"websocket_basic.pcap", "websocket_permessage_deflate.pcap", "websocket_ping_pong_sll.pcap"} {
			cs := corpusConns(t, name)
			if len(cs) != 1 || cs[0].handoffs["ws"].data[decode.ServerToClient].Len() == 0 {
				t.Fatalf("%s: %d connections or no server frames handed to ws", name, len(cs))
			}
			if x := one(t, cs[0].exchanges()); x.Status() != 101 || x.Request.HeaderValue("Upgrade") == "" {
				t.Fatalf("%s: %d", name, x.Status())
			}
		}
	})
	t.Run("keepalive", func(t *testing.T) {
		xs := corpusExchanges(t, "http11_keepalive_5req_1conn.pcap")
		for _, x := range xs {
			if x.State != decode.Complete || x.Response.DecodedSize < 0 {
				t.Fatalf("%s %s: %s decoded %d %s", x.Method(), x.Path(), x.State, x.Response.DecodedSize, x.Response.DecodeError)
			}
		}
	})
}
