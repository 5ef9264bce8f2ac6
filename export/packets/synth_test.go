package packets

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/export/spool"
	"github.com/tapview/tapview/sources"
)

// recordWriter is a PacketWriter that keeps packets and comments.
type recordWriter struct {
	pkts     []sources.Packet
	comments []string
	secrets  [][]byte
}

func (w *recordWriter) WritePacket(p sources.Packet, c string) error {
	w.pkts = append(w.pkts, p)
	w.comments = append(w.comments, c)
	return nil
}
func (w *recordWriter) Flush() error { return nil }
func (w *recordWriter) WriteSecrets(kind uint32, data []byte) error {
	w.secrets = append(w.secrets, data)
	return nil
}

// tapExchange is an exchange as an Envoy HTTP tap trace gives it: no
// flow, no packets, HTTP/2 header lists.
func tapExchange(client, server string, at time.Time) *decode.Exchange {
	return &decode.Exchange{
		ID: 99, Source: "envoy-tap", Proto: "h2", State: decode.Complete,
		Client: netip.MustParseAddrPort(client), Server: netip.MustParseAddrPort(server),
		Start: at, End: at.Add(3 * time.Millisecond),
		Request: &decode.Message{First: at, Last: at, Method: "POST", Target: "/api/pets?api_key=" + plantAPIKey, Host: "pets.example", Proto: "HTTP/2",
			Headers: []decode.Header{{Name: ":method", Value: "POST"}, {Name: ":path", Value: "/api/pets?api_key=" + plantAPIKey},
				{Name: ":authority", Value: "pets.example"}, {Name: "authorization", Value: "Bearer " + plantJWT},
				{Name: "content-type", Value: "application/json"}},
			Body: []byte(`{"name":"rex","password":"` + plantPassword + `"}`), BodySize: 40, DecodedSize: 40},
		Response: &decode.Message{First: at.Add(2 * time.Millisecond), Last: at.Add(3 * time.Millisecond), Status: 201, Proto: "HTTP/2",
			Headers: []decode.Header{{Name: ":status", Value: "201"}, {Name: "content-type", Value: "application/json"}},
			Body:    []byte(`{"id":7}`), BodySize: 8, DecodedSize: 8},
	}
}

func TestSynthesizedExchangesMergeInTimeOrder(t *testing.T) {
	for _, addrs := range [][2]string{
		{"10.9.0.1:51000", "10.9.0.2:8443"},
		{"[2001:db8::9]:51000", "[2001:db8::10]:8443"},
		{"10.9.0.1:51000", "[2001:db8::10]:8443"}, // proxy with mixed families
	} {
		sp, err := spool.Create(t.TempDir(), true)
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		sy := NewSynthesizer(sp, mask.Default())
		// Added late (in completion order) but stamped between the
		// captured connection's packets.
		captured := number(connPackets(t, "10.0.0.1:40001", "10.0.0.2:80", 1448, t0, []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
			[]byte("HTTP/1.1 204 No Content\r\n\r\n")))
		if err := sy.Add(tapExchange(addrs[0], addrs[1], t0.Add(3*time.Millisecond))); err != nil {
			t.Fatal(err)
		}
		if err := sy.Close(); err != nil {
			t.Fatal(err)
		}
		if n, skipped := sy.Counts(); n != 1 || skipped != 0 {
			t.Fatalf("counts %d/%d", n, skipped)
		}
		r, err := sp.Reader()
		if err != nil {
			t.Fatal(err)
		}
		plan := NewPlan(true, mask.Default())
		pass1(t, captured, plan, CollectOptions{})
		var w recordWriter
		res, err := Write(context.Background(), &w, plan, Inputs{Captured: []Stream{&sliceStream{pkts: clonePackets(captured)}}, Synthetic: FromSpool(r)}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Synthesized == 0 || res.Packets != len(captured)+res.Synthesized {
			t.Fatalf("%v: result %+v", addrs, res)
		}
		for i := 1; i < len(w.pkts); i++ {
			if w.pkts[i].Timestamp.Before(w.pkts[i-1].Timestamp) {
				t.Fatalf("%v: packet %d goes back in time", addrs, i+1)
			}
		}
		checksumsOK(t, w.pkts)
		var synthPkts []sources.Packet
		var comment string
		for i, p := range w.pkts {
			if p.Source == "envoy-tap" {
				synthPkts = append(synthPkts, p)
				if w.comments[i] != "" {
					comment = w.comments[i]
				}
			}
		}
		if got := leaked([]byte(payloads(synthPkts)), planted); len(got) > 0 {
			t.Errorf("%v: secrets in synthesized packets: %v", addrs, got)
		}
		exs := exchangesOf(t, synthPkts)
		if len(exs) != 1 || exs[0].Method() != "POST" || exs[0].Status() != 201 || exs[0].Host() != "pets.example" ||
			string(exs[0].Response.Body) != `{"id":7}` {
			t.Fatalf("%v: synthesized packets decode to %+v", addrs, exs)
		}
		if !strings.HasPrefix(comment, "POST pets.example/api/pets?api_key="+mask.Display) ||
			!strings.Contains(comment, "no packets captured: synthesized, HTTP/2 shown as HTTP/1.1") {
			t.Errorf("%v: comment %q", addrs, comment)
		}
		if exs[0].Client.Addr().Is4() != exs[0].Server.Addr().Is4() {
			t.Errorf("%v: mixed families in one packet", addrs)
		}
	}
}

func TestCommentsOnFirstPacketOfEachExchange(t *testing.T) {
	// Two requests on one keep-alive connection.
	c := connPackets(t, "10.0.0.1:40001", "10.0.0.2:80", 1448, t0,
		[]byte("GET /one HTTP/1.1\r\nHost: h\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1"))
	in := number(c)
	plan := NewPlan(true, nil)
	pass1(t, in, plan, CollectOptions{})
	var w recordWriter
	if _, err := Write(context.Background(), &w, plan, Inputs{Captured: []Stream{&sliceStream{pkts: clonePackets(in)}}}, Options{}); err != nil {
		t.Fatal(err)
	}
	var got []int
	for i, cm := range w.comments {
		if cm != "" {
			got = append(got, i)
			if cm != "GET h/one → 200 (4.0 ms)" {
				t.Errorf("comment %q", cm)
			}
		}
	}
	if len(got) != 1 || got[0] != 3 {
		t.Fatalf("comments on packets %v, want only on packet index 3 (the request)", got)
	}
}

func TestKeysWrittenOnlyWhenAsked(t *testing.T) {
	in := number(connPackets(t, "10.0.0.1:40001", "10.0.0.2:443", 1448, t0, []byte("x"), []byte("y")))
	plan := NewPlan(true, mask.Default())
	pass1(t, in, plan, CollectOptions{})
	stream := func() []Stream {
		return []Stream{&secretsFirst{sliceStream: sliceStream{pkts: clonePackets(in)}}}
	}
	var w recordWriter
	if _, err := Write(context.Background(), &w, plan, Inputs{Captured: stream()}, Options{KeyLog: []byte("CLIENT_RANDOM a b\n")}); err != nil {
		t.Fatal(err)
	}
	if len(w.secrets) != 0 {
		t.Fatalf("keys written without IncludeKeys: %q", w.secrets)
	}
	w = recordWriter{}
	res, err := Write(context.Background(), &w, plan, Inputs{Captured: stream()}, Options{IncludeKeys: true, KeyLog: []byte("CLIENT_RANDOM a b\n")})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.secrets) != 2 || res.KeyBlocks != 2 || string(w.secrets[0]) != "CLIENT_RANDOM a b\n" || string(w.secrets[1]) != "embedded" {
		t.Fatalf("keys %q (result %+v), want the key log then the embedded block", w.secrets, res)
	}
}

// secretsFirst is a stream whose capture embeds key material first.
type secretsFirst struct {
	sliceStream
	sent bool
}

func (s *secretsFirst) Next() (spool.Record, error) {
	if !s.sent {
		s.sent = true
		return spool.Record{SecretsKind: 0x544c534b, Secrets: []byte("embedded")}, nil
	}
	return s.sliceStream.Next()
}

func TestPcapTakesTheFirstPacketsLinkType(t *testing.T) {
	var buf bytes.Buffer
	w := NewPcap(&buf)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 24 || buf.Bytes()[20] != byte(sources.LinkEthernet) {
		t.Fatalf("empty pcap: % x", buf.Bytes())
	}
	buf.Reset()
	w = NewPcap(&buf)
	if err := w.WritePacket(sources.Packet{Timestamp: t0, LinkType: sources.LinkLinuxSLL, Data: make([]byte, 20), OrigLen: 20}, ""); err != nil {
		t.Fatal(err)
	}
	err := w.WritePacket(sources.Packet{Timestamp: t0, LinkType: sources.LinkEthernet, Data: make([]byte, 20), OrigLen: 20}, "")
	if err == nil || !strings.Contains(err.Error(), "pcapng") {
		t.Fatalf("mixed link types: %v", err)
	}
	if err := w.Flush(); err != nil || buf.Bytes()[20] != byte(sources.LinkLinuxSLL) {
		t.Fatalf("header link type %d, err %v", buf.Bytes()[20], err)
	}
}
