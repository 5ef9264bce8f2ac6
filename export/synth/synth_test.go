package synth_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/sources"
)

var t0 = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

// conversation drives one connection through open, a multi-segment
// request, a response and close.
func conversation(t *testing.T, client, server string, opts synth.Options) ([]sources.Packet, []byte, []byte) {
	t.Helper()
	c, err := synth.NewTCP(netip.MustParseAddrPort(client), netip.MustParseAddrPort(server), opts)
	if err != nil {
		t.Fatal(err)
	}
	req := bytes.Repeat([]byte("0123456789abcdef"), 300) // 4800 bytes
	resp := []byte("HTTP/1.1 204 No Content\r\n\r\n")
	var pkts []sources.Packet
	pkts = append(pkts, c.Open(t0)...)
	pkts = append(pkts, c.Send(decode.ClientToServer, req, t0.Add(time.Millisecond))...)
	pkts = append(pkts, c.Send(decode.ServerToClient, resp, t0.Add(time.Millisecond))...) // same instant: must still be ordered
	pkts = append(pkts, c.Close(t0.Add(2*time.Millisecond))...)
	if !c.Done() {
		t.Error("Done() false after Close")
	}
	return pkts, req, resp
}

func TestTCPPackets(t *testing.T) {
	for _, tc := range []struct {
		name, client, server string
		opts                 synth.Options
	}{
		{"v4-ether", "10.1.2.3:40000", "10.9.8.7:80", synth.Options{}},
		{"v6-ether", "[2001:db8::1]:40000", "[2001:db8::2]:80", synth.Options{}},
		{"v4-raw-mss536", "192.168.0.1:1234", "192.168.0.2:8080", synth.Options{Link: sources.LinkRaw, MSS: 536}},
		{"v6-raw", "[::1]:5000", "[::1]:6000", synth.Options{Link: sources.LinkRaw, Source: "pod-x"}},
		{"mapped-v4", "[::ffff:127.0.0.1]:5000", "127.0.0.1:80", synth.Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkts, req, resp := conversation(t, tc.client, tc.server, tc.opts)
			mss := tc.opts.MSS
			if mss == 0 {
				mss = synth.DefaultMSS
			}
			s := checkPackets(t, pkts, mss)
			c := netip.MustParseAddrPort(tc.client)
			c = netip.AddrPortFrom(c.Addr().Unmap(), c.Port())
			srv := netip.MustParseAddrPort(tc.server)
			up, down := flowKey{c, srv}, flowKey{srv, c}
			if !bytes.Equal(s.data[up].Bytes(), req) || !bytes.Equal(s.data[down].Bytes(), resp) {
				t.Errorf("reassembled %d/%d bytes, want %d/%d", s.data[up].Len(), s.data[down].Len(), len(req), len(resp))
			}
			// Handshake, segments with PSH on the last, an ACK every
			// second segment and after the last, then FIN/ACK pairs.
			var wantUp, wantDown []string
			wantUp = append(wantUp, "S", ".")
			wantDown = append(wantDown, "S.")
			for i, rest := 0, len(req); rest > 0; i++ {
				k := min(rest, mss)
				rest -= k
				f := "."
				if rest == 0 {
					f = "P."
				}
				wantUp = append(wantUp, fmt.Sprintf("%s%d", f, k))
				if i%2 == 1 || rest == 0 {
					wantDown = append(wantDown, ".")
				}
			}
			wantDown = append(wantDown, fmt.Sprintf("P.%d", len(resp)))
			wantUp = append(wantUp, ".", "F.", ".")
			wantDown = append(wantDown, ".", "F.")
			if got := strings.Join(s.flags[up], " "); got != strings.Join(wantUp, " ") {
				t.Errorf("client segments %s\nwant %s", got, strings.Join(wantUp, " "))
			}
			if got := strings.Join(s.flags[down], " "); got != strings.Join(wantDown, " ") {
				t.Errorf("server segments %s\nwant %s", got, strings.Join(wantDown, " "))
			}
			for _, p := range pkts {
				if p.LinkType != max(tc.opts.Link, sources.LinkEthernet) || p.Source != cmpOr(tc.opts.Source, synth.DefaultSource) || p.Offset != -1 {
					t.Fatalf("packet fields %+v", p)
				}
			}
			syn := gopacket.NewPacket(pkts[0].Data, firstLayer(pkts[0]), gopacket.Default).Layer(layers.LayerTypeTCP).(*layers.TCP)
			if len(syn.Options) != 1 || syn.Options[0].OptionType != layers.TCPOptionKindMSS || int(syn.Options[0].OptionData[0])<<8|int(syn.Options[0].OptionData[1]) != mss {
				t.Errorf("SYN options %v, want MSS %d", syn.Options, mss)
			}
			f := filepath.Join(t.TempDir(), "c.pcapng")
			writeNg(t, f, pkts)
			tsharkClean(t, f, len(pkts))
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func firstLayer(p sources.Packet) gopacket.LayerType {
	if p.LinkType == sources.LinkRaw {
		if p.Data[0]>>4 == 6 {
			return layers.LayerTypeIPv6
		}
		return layers.LayerTypeIPv4
	}
	return layers.LayerTypeEthernet
}

func writeNg(t *testing.T, file string, pkts []sources.Packet) {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pcapw.NewPcapng(f, pcapw.NgOptions{Application: "synth test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		if err := w.WritePacket(p, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestTCPDeterministic(t *testing.T) {
	a, _, _ := conversation(t, "10.0.0.1:1000", "10.0.0.2:80", synth.Options{})
	b, _, _ := conversation(t, "10.0.0.1:1000", "10.0.0.2:80", synth.Options{})
	for i := range a {
		if !bytes.Equal(a[i].Data, b[i].Data) || !a[i].Timestamp.Equal(b[i].Timestamp) {
			t.Fatalf("packet %d differs between identical runs", i)
		}
	}
	c, _, _ := conversation(t, "10.0.0.1:1001", "10.0.0.2:80", synth.Options{})
	if bytes.Equal(a[0].Data, c[0].Data) {
		t.Error("different connections got identical SYNs")
	}
}

func TestTCPResetAndHalfClose(t *testing.T) {
	c, err := synth.NewTCP(netip.MustParseAddrPort("10.0.0.1:1000"), netip.MustParseAddrPort("10.0.0.2:80"), synth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var pkts []sources.Packet
	pkts = append(pkts, c.Open(t0)...)
	pkts = append(pkts, c.Send(decode.ClientToServer, []byte("GET / HTTP/1.0\r\n\r\n"), t0)...)
	pkts = append(pkts, c.Fin(decode.ClientToServer, t0)...)
	if p := c.Send(decode.ClientToServer, []byte("late"), t0); p != nil {
		t.Errorf("data after the client's FIN produced %d packets", len(p))
	}
	pkts = append(pkts, c.Send(decode.ServerToClient, []byte("HTTP/1.0 200 OK\r\n\r\nhi"), t0)...)
	pkts = append(pkts, c.Reset(decode.ServerToClient, t0)...)
	if !c.Done() || c.Reset(decode.ClientToServer, t0) != nil || c.Close(t0) != nil {
		t.Error("connection still emits after RST")
	}
	s := checkPackets(t, pkts, synth.DefaultMSS)
	down := flowKey{c.Server(), c.Client()}
	if got := strings.Join(s.flags[down], " "); got != "S. . . P.21 R." {
		t.Errorf("server segments %q", got)
	}
}

func TestUDP(t *testing.T) {
	for _, pair := range [][2]string{{"10.0.0.1:40001", "10.0.0.53:40002"}, {"[fd00::1]:40001", "[fd00::53]:40002"}} {
		u, err := synth.NewUDP(netip.MustParseAddrPort(pair[0]), netip.MustParseAddrPort(pair[1]), synth.Options{})
		if err != nil {
			t.Fatal(err)
		}
		q, err := u.Send(decode.ClientToServer, []byte("query"), t0)
		if err != nil {
			t.Fatal(err)
		}
		a, err := u.Send(decode.ServerToClient, []byte("answer!"), t0)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Timestamp.After(q.Timestamp) {
			t.Errorf("answer at %v, query at %v", a.Timestamp, q.Timestamp)
		}
		s := checkPackets(t, []sources.Packet{q, a}, 0)
		c, srv := netip.MustParseAddrPort(pair[0]), netip.MustParseAddrPort(pair[1])
		if string(s.dgram[flowKey{c, srv}][0]) != "query" || string(s.dgram[flowKey{srv, c}][0]) != "answer!" {
			t.Errorf("datagrams %q", s.dgram)
		}
		if _, err := u.Send(decode.ClientToServer, make([]byte, 70000), t0); err == nil {
			t.Error("70000-byte datagram accepted")
		}
		f := filepath.Join(t.TempDir(), "u.pcapng")
		writeNg(t, f, []sources.Packet{q, a})
		tsharkClean(t, f, 2)
	}
}

func TestOptionErrors(t *testing.T) {
	v4, v6 := netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("[2001:db8::1]:2")
	for _, tc := range []struct {
		name         string
		client, serv netip.AddrPort
		opts         synth.Options
		want         string
	}{
		{"mixed", v4, v6, synth.Options{}, "mix IPv4 and IPv6"},
		{"invalid", netip.AddrPort{}, v4, synth.Options{}, "invalid endpoints"},
		{"mss", v4, v4, synth.Options{MSS: 70000}, "MSS"},
		{"negative-mss", v4, v4, synth.Options{MSS: -1}, "MSS"},
		{"link", v4, v4, synth.Options{Link: sources.LinkLinuxSLL}, "link type 113"},
	} {
		_, err := synth.NewTCP(tc.client, tc.serv, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewTCP error %v, want %q", tc.name, err, tc.want)
		}
		_, err = synth.NewUDP(tc.client, tc.serv, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewUDP error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestShiftTo(t *testing.T) {
	pkts := []sources.Packet{{Timestamp: t0.Add(3 * time.Second)}, {Timestamp: t0.Add(time.Second)}, {Timestamp: t0.Add(1500 * time.Millisecond)}}
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	synth.ShiftTo(pkts, start)
	for i, want := range []time.Duration{2 * time.Second, 0, 500 * time.Millisecond} {
		if d := pkts[i].Timestamp.Sub(start); d != want {
			t.Errorf("packet %d at start%+v, want %v", i, d, want)
		}
	}
}
