package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/decodetest"
	"github.com/tapview/tapview/export/synth"
)

// loopbackDNS is a small authoritative server on 127.0.0.1 answering
// over UDP and TCP on the same port. Names starting with "big" get 40 A
// records, more than fit a 512-byte UDP answer, so UDP answers are
// truncated (TC) and a real resolver retries over TCP.
type loopbackDNS struct {
	pc   net.PacketConn
	ln   net.Listener
	addr string
}

func startDNS(t *testing.T) *loopbackDNS {
	t.Helper()
	for try := 0; try < 20; try++ {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp4", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue
		}
		s := &loopbackDNS{pc: pc, ln: ln, addr: pc.LocalAddr().String()}
		go s.serveUDP()
		go s.serveTCP()
		t.Cleanup(func() { pc.Close(); ln.Close() })
		return s
	}
	t.Fatal("no port free for both UDP and TCP")
	return nil
}

func (s *loopbackDNS) serveUDP() {
	buf := make([]byte, 2048)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if out, err := respondTo(buf[:n], 512); err == nil {
			s.pc.WriteTo(out, from)
		}
	}
}

func (s *loopbackDNS) serveTCP() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			for {
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				msg := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				out, err := respondTo(msg, 65535)
				if err != nil {
					return
				}
				c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(out))), out...))
			}
		}()
	}
}

// respondTo answers one query; answers that do not fit max bytes are
// replaced by an empty truncated answer.
func respondTo(raw []byte, max int) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(raw)
	if err != nil {
		return nil, err
	}
	qq, err := p.Question()
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(qq.Name.String())
	hdr := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	if strings.HasPrefix(name, "missing.") {
		hdr.RCode = dnsmessage.RCodeNameError
	}
	mk := func(hdr dnsmessage.Header, records bool) ([]byte, error) {
		b := dnsmessage.NewBuilder(nil, hdr)
		b.EnableCompression()
		if err := b.StartQuestions(); err != nil {
			return nil, err
		}
		if err := b.Question(qq); err != nil {
			return nil, err
		}
		if err := b.StartAnswers(); err != nil {
			return nil, err
		}
		rr := dnsmessage.ResourceHeader{Name: qq.Name, Class: dnsmessage.ClassINET, TTL: 60}
		switch {
		case !records || hdr.RCode != 0:
		case qq.Type == dnsmessage.TypeA && strings.HasPrefix(name, "big."):
			for i := 0; i < 40; i++ {
				if err := b.AResource(rr, dnsmessage.AResource{A: [4]byte{10, 0, 1, byte(i + 1)}}); err != nil {
					return nil, err
				}
			}
		case qq.Type == dnsmessage.TypeA:
			if err := b.AResource(rr, dnsmessage.AResource{A: [4]byte{127, 0, 0, 7}}); err != nil {
				return nil, err
			}
		case qq.Type == dnsmessage.TypeAAAA:
			if err := b.AAAAResource(rr, dnsmessage.AAAAResource{AAAA: [16]byte{15: 7}}); err != nil {
				return nil, err
			}
		case qq.Type == dnsmessage.TypeTXT:
			if err := b.TXTResource(rr, dnsmessage.TXTResource{TXT: []string{"hello from loopback"}}); err != nil {
				return nil, err
			}
		}
		return b.Finish()
	}
	out, err := mk(hdr, true)
	if err != nil || len(out) <= max {
		return out, err
	}
	hdr.Truncated = true
	return mk(hdr, false)
}

// TestRealResolver records Go's own resolver talking to the loopback
// server (UDP, then TCP after a truncated answer) and decodes the
// recording.
func TestRealResolver(t *testing.T) {
	srv := startDNS(t)
	rec := synth.NewRecording(synth.Options{})
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return rec.DialContext(ctx, network, srv.addr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := r.LookupIPAddr(ctx, "svc.test.")
	if err != nil || len(addrs) != 2 {
		t.Fatalf("lookup svc.test: %v %v", addrs, err)
	}
	txt, err := r.LookupTXT(ctx, "svc.test.")
	if err != nil || len(txt) != 1 {
		t.Fatalf("lookup TXT: %v %v", txt, err)
	}
	_, err = r.LookupHost(ctx, "missing.test.")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("lookup missing.test: %v", err)
	}
	big, err := r.LookupIP(ctx, "ip4", "big.test.")
	if err != nil || len(big) != 40 {
		t.Fatalf("lookup big.test: %d addresses, %v", len(big), err)
	}

	col := decodetest.NewCollector(t)
	d := newDecoder(col)
	for _, p := range rec.Packets() {
		d.Packet(&p)
	}
	d.Finish(time.Time{})

	var got []string
	for _, x := range col.Exchanges() {
		if x.Proto != "dns" {
			t.Errorf("exchange %d proto %q", x.ID, x.Proto)
			continue
		}
		if x.State != decode.Complete {
			t.Errorf("%s %s: %s %s", x.DNS.Name, x.DNS.Type, x.State, x.Error)
		}
		tc := ""
		if h, _ := parseHeader(x.Response.Body); h.trunc {
			tc = " TC"
		}
		transport := col.FlowByID(x.FlowID).Transport
		got = append(got, transport+" "+x.DNS.Name+" "+x.DNS.Type+" "+x.DNS.Rcode+tc+" "+strings.Join(x.DNS.Answers, ","))
	}
	sort.Strings(got)
	bigAnswers := make([]string, 40)
	for i := range bigAnswers {
		bigAnswers[i] = "A 10.0.1." + strconv.Itoa(i+1)
	}
	want := []string{
		"tcp big.test A NOERROR " + strings.Join(bigAnswers, ","),
		"udp big.test A NOERROR TC ",
		"udp missing.test A NXDOMAIN ",
		"udp missing.test AAAA NXDOMAIN ",
		"udp svc.test A NOERROR A 127.0.0.7",
		"udp svc.test AAAA NOERROR AAAA ::7",
		"udp svc.test TXT NOERROR TXT \"hello from loopback\"",
	}
	if !slices.Equal(got, want) {
		t.Errorf("exchanges:\n got %q\nwant %q", got, want)
	}
	for _, f := range col.Flows() {
		if f.Proto != "dns" {
			t.Errorf("flow %s %s -> %s proto %q", f.Transport, f.Client, f.Server, f.Proto)
		}
	}
}
