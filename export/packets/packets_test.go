package packets

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/filter"
	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/sources"
)

func TestMaskedExportHidesPlantedSecrets(t *testing.T) {
	for _, tc := range []struct {
		name           string
		client, server string
		mss            int
	}{
		{"ipv4 full segments", "10.0.0.1:40001", "10.0.0.2:80", 1448},
		{"ipv4 60-byte segments", "10.0.0.1:40001", "10.0.0.2:80", 60},
		{"ipv6 7-byte segments", "[2001:db8::1]:40001", "[2001:db8::2]:8080", 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := number(connPackets(t, tc.client, tc.server, tc.mss, t0, plantedRequest(), plantedResponse()))
			if got := leaked([]byte(payloads(in)), planted); len(got) != len(planted) {
				t.Fatalf("test input lacks secrets: only %v", got)
			}
			plan := NewPlan(true, mask.Default())
			pass1(t, in, plan, CollectOptions{})
			if st := plan.Stats(); st.Exchanges != 1 || st.Secrets != 1 {
				t.Fatalf("plan stats %+v, want 1 exchange with secrets", st)
			}
			file, res := pass2(t, in, plan, nil, Options{})
			out := readBack(t, file)
			// Segments are in stream order, so joined payloads show a
			// secret split across segments as well.
			if got := leaked(append(file, payloads(out)...), planted); len(got) > 0 {
				t.Fatalf("secrets survived: %v", got)
			}
			if len(out) != len(in) || res.Packets != len(in) {
				t.Fatalf("wrote %d packets (result %d), want %d", len(out), res.Packets, len(in))
			}
			for i := range in {
				if len(out[i].Data) != len(in[i].Data) || !out[i].Timestamp.Equal(in[i].Timestamp) {
					t.Fatalf("packet %d changed length or time", i+1)
				}
			}
			checksumsOK(t, out)
			if res.Masked == 0 || res.Fixed != res.Masked {
				t.Errorf("result %+v: every masked packet should get its checksum fixed", res)
			}
			text := payloads(out)
			for _, keep := range []string{"POST /login?api_key=", "&lang=en HTTP/1.1\r\n", "Host: api.example.com\r\n",
				"Authorization: Bearer ", `"user":"bob"`, "Set-Cookie: session=", "; Path=/; HttpOnly"} {
				if !strings.Contains(text, keep) {
					t.Errorf("masking destroyed %q", keep)
				}
			}
		})
	}
}

func TestUnmaskedUnfilteredExportIsByteIdentical(t *testing.T) {
	in := number(connPackets(t, "10.0.0.1:40001", "10.0.0.2:80", 100, t0, plantedRequest(), plantedResponse()))
	// A frame that is not IP belongs to no flow and is still exported.
	arp := sources.Packet{Timestamp: t0.Add(20 * time.Millisecond), LinkType: sources.LinkEthernet, Source: "test.pcap",
		Data: append(bytes.Repeat([]byte{0xff}, 12), 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1), OrigLen: 22}
	in = number(append(in, arp))
	plan := NewPlan(true, nil)
	pass1(t, in, plan, CollectOptions{})
	file, _ := pass2(t, in, plan, nil, Options{})
	out := readBack(t, file)
	if len(out) != len(in) {
		t.Fatalf("wrote %d packets, want %d", len(out), len(in))
	}
	for i := range in {
		if !bytes.Equal(out[i].Data, in[i].Data) || !out[i].Timestamp.Equal(in[i].Timestamp) || out[i].OrigLen != in[i].OrigLen {
			t.Fatalf("packet %d differs", i+1)
		}
	}
	if got := leaked([]byte(payloads(out)), planted); len(got) != len(planted) {
		t.Fatalf("unmasked export lost secrets: has only %v", got)
	}
}

func TestFilteredExportKeepsExactlyTheMatchingConnections(t *testing.T) {
	a := connPackets(t, "10.0.0.1:40001", "10.0.0.2:80", 1448, t0, []byte("GET /a HTTP/1.1\r\nHost: a.example\r\n\r\n"),
		[]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	b := connPackets(t, "10.0.0.1:40002", "10.0.0.3:80", 1448, t0.Add(2*time.Millisecond), []byte("GET /b HTTP/1.1\r\nHost: b.example\r\n\r\n"),
		[]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
	// Interleave the two connections by time, as a capture would.
	in := mergeByTime(a, b)
	in = number(in)
	prog, err := filter.Compile("status == 404")
	if err != nil {
		t.Fatal(err)
	}
	plan := NewPlan(false, mask.Default())
	c := pass1(t, in, plan, CollectOptions{Match: prog})
	if c.Matched() != 1 {
		t.Fatalf("matched %d exchanges, want 1", c.Matched())
	}
	file, _ := pass2(t, in, plan, nil, Options{})
	out := readBack(t, file)
	if len(out) != len(b) {
		t.Fatalf("wrote %d packets, want the %d of connection b", len(out), len(b))
	}
	for i, p := range out {
		if !bytes.Equal(p.Data, b[i].Data) {
			t.Fatalf("packet %d is not connection b's packet %d", i+1, i+1)
		}
	}
	// The flow filter selects by connection instead.
	prog, err = filter.Compile(`server == "10.0.0.2:80"`)
	if err != nil {
		t.Skipf("flow filter on server address not supported here: %v", err)
	}
	plan = NewPlan(false, nil)
	pass1(t, in, plan, CollectOptions{Match: prog, Flows: true})
	file, _ = pass2(t, in, plan, nil, Options{})
	if out := readBack(t, file); len(out) != len(a) {
		t.Fatalf("flow filter wrote %d packets, want the %d of connection a", len(out), len(a))
	}
}

func mergeByTime(a, b []sources.Packet) []sources.Packet {
	var out []sources.Packet
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j >= len(b) || i < len(a) && !b[j].Timestamp.Before(a[i].Timestamp) {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	return out
}

func TestChecksumLeftAloneWhenWrongOrCut(t *testing.T) {
	in := number(connPackets(t, "10.0.0.1:40001", "10.0.0.2:80", 1448, t0, plantedRequest(), plantedResponse()))
	req := 3 // SYN, SYN-ACK, ACK, then the request segment
	// Offloaded checksum: wrong on the wire.
	in[req].Data[14+20+16] ^= 0xff
	plan := NewPlan(true, mask.Default())
	pass1(t, in, plan, CollectOptions{})
	file, _ := pass2(t, in, plan, nil, Options{})
	out := readBack(t, file)
	if got := leaked(out[req].Data, planted); len(got) > 0 {
		t.Fatalf("secrets survived in a packet with a wrong checksum: %v", got)
	}
	if out[req].Data[14+20+16] != in[req].Data[14+20+16] || out[req].Data[14+20+17] != in[req].Data[14+20+17] {
		t.Errorf("a checksum that was wrong before masking was rewritten")
	}
	// A snaplen-cut copy of the request segment: masked, checksum untouched.
	cut := in[req]
	cut.Data = bytes.Clone(cut.Data[:120])
	cut.OrigLen = len(in[req].Data)
	h, ok := inspectPacket(t, cut)
	if !ok || h.l4 != nil {
		t.Fatalf("a cut packet must not be checksummed: l4=%v", h.l4 != nil)
	}
}

// inspectPacket parses a packet the way Write does.
func inspectPacket(t *testing.T, p sources.Packet) (*held, bool) {
	t.Helper()
	var f link.Frame
	if err := link.Parse(p.LinkType, p.Data, &f); err != nil {
		return nil, false
	}
	h := &held{}
	h.inspect(&f, p.Data)
	return h, true
}

func TestSummaryLine(t *testing.T) {
	in := number(connPackets(t, "10.0.0.1:40001", "10.0.0.2:80", 1448, t0, plantedRequest(), plantedResponse()))
	plan := NewPlan(true, mask.Default())
	pass1(t, in, plan, CollectOptions{})
	var texts []string
	for _, fp := range plan.flows {
		for _, c := range readList(t, plan, &fp.comments[0]) {
			texts = append(texts, c.text())
		}
	}
	want := "POST api.example.com/login?api_key=" + mask.Display + "&lang=en → 200 (4.0 ms)"
	if len(texts) != 1 || texts[0] != want {
		t.Fatalf("summaries %q, want %q", texts, want)
	}
}

func TestFollowStreamsMasksSplitValuesWithoutADecodingPass(t *testing.T) {
	// As the UI exports what it shows: flows and exchanges from its
	// store, the capture read again only to follow the streams.
	in := number(connPackets(t, "10.0.0.1:40001", "10.0.0.2:80", 7, t0, plantedRequest(), plantedResponse()))
	decoded := NewPlan(true, nil)
	pass1Decoder(t, in, decoded, CollectOptions{})
	plan := NewPlan(false, mask.Default())
	for _, fp := range decoded.flows {
		plan.AddFlow(&decode.Flow{ID: fp.id, Source: fp.source, Client: fp.client, Ordinals: fp.ordinals})
		plan.Select(fp.id)
	}
	if err := plan.FollowStreams(context.Background(), &memSource{pkts: in}); err != nil {
		t.Fatal(err)
	}
	file, _ := pass2(t, in, plan, nil, Options{})
	out := readBack(t, file)
	if got := leaked([]byte(payloads(out)), planted); len(got) > 0 {
		t.Fatalf("secrets survived: %v", got)
	}
	checksumsOK(t, out)
	if err := NewPlan(false, nil).FollowStreams(context.Background(), &memSource{pkts: in}); err != nil {
		t.Fatal(err)
	}
}

// TestCommentsSpillToAFile: with SpillComments, a plan keeps little of
// its comments in memory, each exchange still gets its own line with its
// own latency, and Close removes the file.
func TestCommentsSpillToAFile(t *testing.T) {
	dir := t.TempDir()
	plan := NewPlan(true, nil)
	if err := plan.SpillComments(dir); err != nil {
		t.Fatal(err)
	}
	const n = 50000
	for i := 0; i < n; i++ {
		start := t0.Add(time.Duration(i) * time.Second)
		plan.AddExchange(&decode.Exchange{ID: uint64(i + 1), FlowID: 1, Proto: "http/1.1", State: decode.Complete, Start: start,
			Request:  &decode.Message{Method: "GET", Host: "example.com", Target: "/", First: start},
			Response: &decode.Message{Status: 200, Last: start.Add(time.Duration(i+1) * time.Millisecond)}})
	}
	if plan.comments.pending > pendingBudget || plan.comments.store.size < n*20 {
		t.Errorf("%d bytes pending, %d in the file: want at most %d pending", plan.comments.pending, plan.comments.store.size, pendingBudget)
	}
	if err := plan.prepare(); err != nil {
		t.Fatal(err)
	}
	cs := readList(t, plan, &plan.flows[1].comments[0])
	if len(cs) != n || cs[0].text() != "GET example.com/ → 200 (1.0 ms)" || cs[n-1].text() != "GET example.com/ → 200 (50000.0 ms)" {
		t.Errorf("%d lines: %q … %q", len(cs), cs[0].text(), cs[len(cs)-1].text())
	}
	if err := plan.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("Close left %d files in the temp directory", len(left))
	}
}
