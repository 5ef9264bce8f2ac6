package packets

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/http2"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/decode/ws"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/export/spool"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// Secrets planted in the test traffic; none may survive a masked export.
const (
	plantJWT      = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	plantPassword = "hunter2-Xq9-pw"
	plantAPIKey   = "AKq7f93kd02lsl3zz"
	plantCookie   = "s3ss10n-v4lue-77abc"
	plantCard     = "4111111111111111"
	plantEmail    = "alice.secret@example.com"
)

var planted = []string{plantJWT, plantPassword, plantAPIKey, plantCookie, plantCard, plantEmail}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// plantedRequest and plantedResponse are one HTTP/1.1 exchange carrying
// every planted secret.
func plantedRequest() []byte {
	body := `{"user":"bob","password":"` + plantPassword + `","card":"` + plantCard + `","contact":"` + plantEmail + `"}`
	return []byte("POST /login?api_key=" + plantAPIKey + "&lang=en HTTP/1.1\r\n" +
		"Host: api.example.com\r\n" +
		"Authorization: Bearer " + plantJWT + "\r\n" +
		"Content-Type: application/json\r\n" +
		"Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body)
}

func plantedResponse() []byte {
	body := `{"ok":true,"owner":"` + plantEmail + `"}`
	return []byte("HTTP/1.1 200 OK\r\n" +
		"Set-Cookie: session=" + plantCookie + "; Path=/; HttpOnly\r\n" +
		"Content-Type: application/json\r\n" +
		"Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body)
}

func itoa(n int) string {
	var b []byte
	if n == 0 {
		return "0"
	}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// connPackets synthesizes one TCP connection carrying req and resp with
// the given MSS, numbered from first.
func connPackets(t *testing.T, client, server string, mss int, at time.Time, req, resp []byte) []sources.Packet {
	t.Helper()
	c, err := synth.NewTCP(netip.MustParseAddrPort(client), netip.MustParseAddrPort(server), synth.Options{MSS: mss, Source: "test.pcap"})
	if err != nil {
		t.Fatal(err)
	}
	var out []sources.Packet
	out = append(out, c.Open(at)...)
	out = append(out, c.Send(decode.ClientToServer, req, at.Add(time.Millisecond))...)
	out = append(out, c.Send(decode.ServerToClient, resp, at.Add(5*time.Millisecond))...)
	out = append(out, c.Close(at.Add(10*time.Millisecond))...)
	return out
}

// number gives packets ordinals in order.
func number(pkts []sources.Packet) []sources.Packet {
	for i := range pkts {
		pkts[i].Ordinal = uint64(i + 1)
		pkts[i].Source = "test.pcap"
	}
	return pkts
}

// clonePackets deep-copies packets: masking writes into Data.
func clonePackets(pkts []sources.Packet) []sources.Packet {
	out := make([]sources.Packet, len(pkts))
	for i, p := range pkts {
		p.Data = bytes.Clone(p.Data)
		out[i] = p
	}
	return out
}

// sliceStream is a Stream over packets in memory.
type sliceStream struct {
	pkts []sources.Packet
	i    int
}

func (s *sliceStream) Next() (spool.Record, error) {
	if s.i >= len(s.pkts) {
		return spool.Record{}, io.EOF
	}
	s.i++
	return spool.Record{Packet: s.pkts[s.i-1]}, nil
}

func (s *sliceStream) Close() error { return nil }

// pass1 decodes packets into a plan the way the export command does:
// through the plan's Tap (which follows the streams when masking) into
// the decoder.
func pass1(t *testing.T, pkts []sources.Packet, plan *Plan, opts CollectOptions) *Collector {
	t.Helper()
	c := NewCollector(plan, opts)
	d := tcp.NewDecoder(c, tcp.Config{Parsers: []decode.Parser{http1.New(), http2.New(), ws.New()}})
	em := &decodeEmitter{d: d}
	src := plan.Tap(&memSource{pkts: pkts}, NewSourceSet(), nil)
	if err := src.Run(context.Background(), em); err != nil {
		t.Fatal(err)
	}
	d.Finish(em.last)
	return c
}

// pass1Decoder decodes packets into a plan without following the
// streams (as the UI's export of what it shows does): only the decoded
// exchanges' secret values and the per-packet scan mask.
func pass1Decoder(t *testing.T, pkts []sources.Packet, plan *Plan, opts CollectOptions) *Collector {
	t.Helper()
	c := NewCollector(plan, opts)
	d := tcp.NewDecoder(c, tcp.Config{Parsers: []decode.Parser{http1.New(), http2.New()}})
	var last time.Time
	for i := range pkts {
		p := pkts[i]
		p.Data = bytes.Clone(p.Data)
		d.Packet(&p)
		last = p.Timestamp
	}
	d.Finish(last)
	return c
}

// memSource is a source of packets held in memory (copied as emitted).
type memSource struct{ pkts []sources.Packet }

func (s *memSource) Name() string { return "test.pcap" }

func (s *memSource) Run(_ context.Context, emit sources.Emitter) error {
	for _, p := range s.pkts {
		p.Data = bytes.Clone(p.Data)
		emit.Packet(p)
	}
	return nil
}

// decodeEmitter hands emitted packets to a decoder at once.
type decodeEmitter struct {
	d    *tcp.Decoder
	last time.Time
}

func (e *decodeEmitter) Packet(p sources.Packet) {
	e.d.Packet(&p)
	e.last = p.Timestamp
}

func (e *decodeEmitter) Status(sources.Status) {}

// pass2 writes the plan's packets as pcapng and returns the file.
func pass2(t *testing.T, pkts []sources.Packet, plan *Plan, synthetic Stream, opts Options) ([]byte, Result) {
	t.Helper()
	var buf bytes.Buffer
	pw, err := pcapw.NewPcapng(&buf, pcapw.NgOptions{Comment: SectionComment("tapview test", plan, 0, false)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Write(context.Background(), pw, plan, Inputs{Captured: []Stream{&sliceStream{pkts: clonePackets(pkts)}}, Synthetic: synthetic}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), res
}

// readBack reads a capture with tapview's own reader.
func readBack(t *testing.T, file []byte) []sources.Packet {
	t.Helper()
	src, err := pcapfile.New("out.pcapng", bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	var c collectEmitter
	if err := src.Run(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	return c.pkts
}

type collectEmitter struct{ pkts []sources.Packet }

func (c *collectEmitter) Packet(p sources.Packet) { c.pkts = append(c.pkts, p) }
func (c *collectEmitter) Status(sources.Status)   {}

// checksumsOK verifies IP, TCP and UDP checksums with gopacket, an
// implementation independent of the one under test.
func checksumsOK(t *testing.T, pkts []sources.Packet) {
	t.Helper()
	for _, p := range pkts {
		gp := gopacket.NewPacket(p.Data, layers.LinkTypeEthernet, gopacket.Default)
		if el := gp.ErrorLayer(); el != nil {
			t.Fatalf("packet %d does not decode: %v", p.Ordinal, el.Error())
		}
		if tl, ok := gp.TransportLayer().(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok {
			if err := tl.SetNetworkLayerForChecksum(gp.NetworkLayer()); err != nil {
				t.Fatal(err)
			}
		}
		err, bad := gp.VerifyChecksums()
		if err != nil {
			t.Fatalf("packet %d: verify checksums: %v", p.Ordinal, err)
		}
		if len(bad) > 0 {
			t.Errorf("packet %d: bad checksums %v", p.Ordinal, bad)
		}
	}
}

// leaked returns the planted secrets found in b.
func leaked(b []byte, secrets []string) []string {
	var out []string
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			out = append(out, s)
		}
	}
	return out
}

// payloads joins the TCP payloads of packets, per direction, in order.
func payloads(pkts []sources.Packet) string {
	var b strings.Builder
	for _, p := range pkts {
		gp := gopacket.NewPacket(p.Data, layers.LinkTypeEthernet, gopacket.Default)
		if l := gp.Layer(layers.LayerTypeTCP); l != nil {
			b.Write(l.(*layers.TCP).Payload)
		}
	}
	return b.String()
}
