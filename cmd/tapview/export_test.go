package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
	"github.com/tapview/tapview/sources/taptrace"
	"github.com/tapview/tapview/sources/taptrace/tracetest"
)

// Secrets planted in the test capture.
const (
	secJWT      = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsIm5hbWUiOiJKYW5lIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	secPassword = "correct-horse-9"
	secAPIKey   = "k3y-ABCDEF123456"
	secCookie   = "c00kie-value-XYZ"
	secCard     = "4242424242424242"
	secEmail    = "jane.doe.private@example.org"
)

var allSecrets = []string{secJWT, secPassword, secAPIKey, secCookie, secCard, secEmail}

func plantedExchange() (req, resp []byte) {
	body := `{"user":"jane","password":"` + secPassword + `","card":"` + secCard + `","email":"` + secEmail + `"}`
	req = []byte("POST /v1/login?api_key=" + secAPIKey + "&v=2 HTTP/1.1\r\nHost: shop.example\r\n" +
		"Authorization: Bearer " + secJWT + "\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	rbody := `{"welcome":"` + secEmail + `"}`
	resp = []byte("HTTP/1.1 200 OK\r\nSet-Cookie: sid=" + secCookie + "; Path=/; Secure\r\nContent-Type: application/json\r\n" +
		"Content-Length: " + strconv.Itoa(len(rbody)) + "\r\n\r\n" + rbody)
	return req, resp
}

// writePlanted writes a pcap with the planted exchange on two
// connections (IPv4 with full segments, IPv6 with 50-byte segments) and
// a third, clean connection.
func writePlanted(t *testing.T) string {
	t.Helper()
	req, resp := plantedExchange()
	t0 := time.Date(2024, 6, 1, 9, 0, 0, 0, time.UTC)
	var pkts []sources.Packet
	conn := func(c, s string, mss int, at time.Time, rq, rs []byte) {
		tcp, err := synth.NewTCP(netip.MustParseAddrPort(c), netip.MustParseAddrPort(s), synth.Options{MSS: mss})
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, tcp.Open(at)...)
		pkts = append(pkts, tcp.Send(decode.ClientToServer, rq, at.Add(time.Millisecond))...)
		pkts = append(pkts, tcp.Send(decode.ServerToClient, rs, at.Add(3*time.Millisecond))...)
		pkts = append(pkts, tcp.Close(at.Add(5*time.Millisecond))...)
	}
	conn("192.168.1.10:50001", "192.168.1.20:80", 1448, t0, req, resp)
	conn("[fd00::10]:50002", "[fd00::20]:8080", 50, t0.Add(10*time.Millisecond), req, resp)
	conn("192.168.1.10:50003", "192.168.1.30:80", 1448, t0.Add(20*time.Millisecond),
		[]byte("GET /health HTTP/1.1\r\nHost: status.example\r\n\r\n"), []byte("HTTP/1.1 204 No Content\r\n\r\n"))
	path := filepath.Join(t.TempDir(), "planted.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcapw.NewPcap(f, sources.LinkEthernet, 0, true)
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
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// streamsOf joins the TCP payloads of a capture per direction, so a
// secret split across segments shows whole.
func streamsOf(t *testing.T, path string) []byte {
	t.Helper()
	src, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var em packetCollector
	if err := src.Run(context.Background(), &em); err != nil {
		t.Fatal(err)
	}
	dirs := map[string]*bytes.Buffer{}
	var order []string
	var f link.Frame
	for _, p := range em.pkts {
		if link.Parse(p.LinkType, p.Data, &f) != nil || f.Proto != link.ProtoTCP {
			continue
		}
		s, d := f.AddrPorts()
		k := s.String() + ">" + d.String()
		if dirs[k] == nil {
			dirs[k] = &bytes.Buffer{}
			order = append(order, k)
		}
		dirs[k].Write(f.Payload)
	}
	var all []byte
	for _, k := range order {
		all = append(append(all, dirs[k].Bytes()...), '\n')
	}
	return all
}

type packetCollector struct{ pkts []sources.Packet }

func (c *packetCollector) Packet(p sources.Packet) { c.pkts = append(c.pkts, p) }
func (c *packetCollector) Status(sources.Status)   {}

func found(b []byte, secrets []string) []string {
	var out []string
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			out = append(out, s)
		}
	}
	return out
}

// TestExportPlantedSecrets is issue 6's masking check: masked pcap,
// pcapng, HAR and JSON exports hold none of the planted secrets (in the
// file bytes, or in the reassembled TCP streams), --no-mask exports hold
// all of them, and tshark finds no bad checksum in masked captures.
func TestExportPlantedSecrets(t *testing.T) {
	in := writePlanted(t)
	if got := found(streamsOf(t, in), allSecrets); len(got) != len(allSecrets) {
		t.Fatalf("test capture lacks secrets, has %v", got)
	}
	dir := t.TempDir()
	for _, ext := range []string{"pcap", "pcapng", "har", "json"} {
		masked := filepath.Join(dir, "masked."+ext)
		stderr := mustExport(t, in, "-w", masked)
		if !strings.Contains(stderr, "masked") {
			t.Errorf("%s: summary %q does not say masked", ext, stderr)
		}
		data, _ := os.ReadFile(masked)
		if got := found(data, allSecrets); len(got) > 0 {
			t.Errorf("masked %s holds %v", ext, got)
		}
		plain := filepath.Join(dir, "plain."+ext)
		mustExport(t, in, "--no-mask", "-w", plain)
		data, _ = os.ReadFile(plain)
		if ext == "pcap" || ext == "pcapng" {
			if got := found(streamsOf(t, masked), allSecrets); len(got) > 0 {
				t.Errorf("masked %s streams hold %v", ext, got)
			}
			data = streamsOf(t, plain)
		}
		want := allSecrets
		if ext == "json" {
			// JSON Lines carry headers and URLs, not bodies.
			want = []string{secJWT, secAPIKey, secCookie}
		}
		if got := found(data, want); len(got) != len(want) {
			t.Errorf("--no-mask %s holds only %v", ext, got)
		}
		if st, err := os.Stat(plain); err == nil && st.Mode().Perm() != 0o600 {
			t.Errorf("unmasked %s is readable by others: %v", ext, st.Mode())
		}
	}
	if exec.Command("tshark", "-v").Run() != nil {
		t.Skip("tshark not installed: checksum check skipped")
	}
	for _, ext := range []string{"pcap", "pcapng"} {
		out, err := exec.Command("tshark", "-n", "-r", filepath.Join(dir, "masked."+ext),
			"-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
			"-Y", `tcp.checksum.status == "Bad" || ip.checksum.status == "Bad" || udp.checksum.status == "Bad" || _ws.expert.group == "Checksum"`).Output()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("masked %s: tshark checksum errors (err %v):\n%s", ext, err, out)
		}
		c := countWithTshark(t, filepath.Join(dir, "masked."+ext), "-d tcp.port==8080,http")
		if c.packets == 0 || c.reqs != 3 || c.resps != 3 {
			t.Errorf("masked %s: tshark sees %+v, want 3 requests and responses", ext, c)
		}
	}
	comment, _ := exec.Command("capinfos", "-k", filepath.Join(dir, "masked.pcapng")).Output()
	if !strings.Contains(string(comment), "masked: secrets overwritten in payloads") {
		t.Errorf("section comment: %s", comment)
	}
	comment, _ = exec.Command("capinfos", "-k", filepath.Join(dir, "plain.pcapng")).Output()
	if !strings.Contains(string(comment), "not masked") {
		t.Errorf("unmasked section comment: %s", comment)
	}
	out, _ := exec.Command("tshark", "-n", "-r", filepath.Join(dir, "masked.pcapng"), "-Y", "frame.comment", "-T", "fields", "-e", "frame.comment").Output()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "POST shop.example/v1/login?api_key=") || !strings.Contains(lines[0], "→ 200 (") ||
		!strings.HasPrefix(lines[2], "GET status.example/health → 204") {
		t.Errorf("packet comments %q", lines)
	}
}

// TestExportFilteredKeepsMatchingConnections: a filtered export holds
// exactly the connections of the matching exchanges, every packet of
// them, as tshark counts them in the original.
func TestExportFilteredKeepsMatchingConnections(t *testing.T) {
	needTshark(t)
	in := filepath.Join(corpustest.Dir(t), "grpc_unary.pcapng")
	out := filepath.Join(t.TempDir(), "grpc.pcapng")
	mustExport(t, in, "--filter", `proto == "grpc"`, "-w", out)
	want := countWithTshark(t, in, "-d tcp.port==50051,http2", "-Y", "tcp.port == 50051")
	got := countWithTshark(t, out, "-d tcp.port==50051,http2")
	if got != want {
		t.Errorf("filtered export: %+v, want the gRPC connection's %+v", got, want)
	}
	// The same by flow filter.
	out2 := filepath.Join(t.TempDir(), "flow.pcap")
	mustExport(t, in, "--flows", "--filter", `proto == "h2"`, "-w", out2)
	if got := countWithTshark(t, out2, "-d tcp.port==50051,http2"); got != want {
		t.Errorf("--flows export: %+v, want %+v", got, want)
	}
	// A filter nothing matches writes a valid empty capture.
	empty := filepath.Join(t.TempDir(), "none.pcapng")
	mustExport(t, in, "--filter", "status == 599", "-w", empty)
	if got := countWithTshark(t, empty, ""); got.packets != 0 {
		t.Errorf("empty export has %d packets", got.packets)
	}
}

// TestExportStdinIsSpooled: a capture on stdin cannot be read twice, so
// it is spooled in pass one; `-w -` writes to stdout.
func TestExportStdinAndStdout(t *testing.T) {
	in, err := os.Open(filepath.Join(corpustest.Dir(t), "http11_keepalive_5req_1conn.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, stderr, err := runTapview(t, in, "export", "-", "--filter", "status == 200", "-w", "-", "--format", "pcap")
	if err != nil {
		t.Fatalf("export from stdin: %v\n%s", err, stderr)
	}
	if !bytes.HasPrefix(out, []byte{0x4d, 0x3c, 0xb2, 0xa1}) {
		t.Fatalf("stdout does not start with a nanosecond pcap header: % x", out[:min(len(out), 8)])
	}
	path := filepath.Join(t.TempDir(), "stdout.pcap")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	needTshark(t)
	want := countWithTshark(t, filepath.Join(corpustest.Dir(t), "http11_keepalive_5req_1conn.pcap"), "")
	if got := countWithTshark(t, path, ""); got != want {
		t.Errorf("stdin → stdout: %+v, want %+v", got, want)
	}
}

// TestExportTapTracesSynthesized: exchanges from Envoy tap traces have
// no packets; the pcapng holds synthesized TCP connections that tshark
// decodes as HTTP.
func TestExportTapTracesSynthesized(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taps.pb_length_delimited")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	rec := taptrace.NewRecorder(f)
	for i, w := range []*tapv3.TraceWrapper{tracetest.HTTPBuffered(1, "/pets?token=abcdef123456", 200, `{"id":1}`),
		tracetest.HTTPBuffered(2, "/missing", 404, "no"), tracetest.GRPCBuffered(3)} {
		tr := sources.Trace{Wrapper: w, Source: "taps", Arrival: tracetest.Base(), Ordinal: uint64(i + 1)}
		if err := rec.Record(&tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "taps.pcapng")
	stderr := mustExport(t, path, "-w", out)
	if !strings.Contains(stderr, "synthesized for 3 exchanges without packets") {
		t.Errorf("summary %q", stderr)
	}
	data, _ := os.ReadFile(out)
	if bytes.Contains(data, []byte("abcdef123456")) {
		t.Error("masked synthesized packets hold the token")
	}
	needTshark(t)
	c := countWithTshark(t, out, "")
	if c.reqs != 3 || c.resps != 3 {
		t.Errorf("tshark finds %+v in the synthesized capture, want 3 requests and responses", c)
	}
	bad, _ := exec.Command("tshark", "-n", "-r", out, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
		"-Y", `tcp.checksum.status == "Bad" || ip.checksum.status == "Bad" || tcp.analysis.flags`).Output()
	if len(bytes.TrimSpace(bad)) > 0 {
		t.Errorf("synthesized packets have checksum or TCP analysis problems:\n%s", bad)
	}
	comments, _ := exec.Command("tshark", "-n", "-r", out, "-Y", "frame.comment", "-T", "fields", "-e", "frame.comment").Output()
	if n := strings.Count(string(comments), "no packets captured: synthesized"); n != 3 {
		t.Errorf("%d synthesized comments, want 3:\n%s", n, comments)
	}
}

// TestExportShownFromUI exercises the UI's x key: the exchanges and flows
// of a decoded capture, written in every format.
func TestExportShownFromUI(t *testing.T) {
	dir := corpustest.Dir(t)
	t.Chdir(dir) // the capture is found again by its name, as when opened from here
	src, err := pcapfile.Open("http11_keepalive_5req_1conn.pcap")
	if err != nil {
		t.Fatal(err)
	}
	store := decode.NewStore()
	if err := runPipeline(context.Background(), []input{{src: src}}, nil, store, nil); err != nil {
		t.Fatal(err)
	}
	exs, fls := store.Exchanges(), store.Flows()
	if len(exs) != 5 || len(fls) != 1 {
		t.Fatalf("decoded %d exchanges, %d flows", len(exs), len(fls))
	}
	tmp := t.TempDir()
	export := exportShownWith(&sessionFlags{}, nil)
	for _, ext := range []string{"pcapng", "pcap", "har"} {
		if err := export(context.Background(), filepath.Join(tmp, "shown."+ext), slices.Values(exs[:2]), fls, true); err != nil {
			t.Fatalf("%s: %v", ext, err)
		}
	}
	if err := exportShown(context.Background(), filepath.Join(tmp, "shown.json"), slices.Values(exs[:2]), fls, true); err != nil {
		t.Fatalf("json: %v", err)
	}
	var doc struct {
		Log struct{ Entries []json.RawMessage } `json:"log"`
	}
	data, _ := os.ReadFile(filepath.Join(tmp, "shown.har"))
	if err := json.Unmarshal(data, &doc); err != nil || len(doc.Log.Entries) != 2 {
		t.Errorf("HAR: %v, %d entries, want 2", err, len(doc.Log.Entries))
	}
	data, _ = os.ReadFile(filepath.Join(tmp, "shown.json"))
	if n := bytes.Count(data, []byte("\n")); n != 3 {
		t.Errorf("JSON: %d lines, want 2 exchanges and 1 flow", n)
	}
	if err := export(context.Background(), filepath.Join(tmp, "shown.txt"), slices.Values(exs), fls, true); err == nil {
		t.Error("an unknown extension was accepted")
	}
	needTshark(t)
	want := countWithTshark(t, "http11_keepalive_5req_1conn.pcap", "")
	for _, ext := range []string{"pcapng", "pcap"} {
		if got := countWithTshark(t, filepath.Join(tmp, "shown."+ext), ""); got != want {
			t.Errorf("%s: %+v, want the whole connection %+v", ext, got, want)
		}
	}
}

func TestExportUsageErrors(t *testing.T) {
	in := filepath.Join(corpustest.Dir(t), "http11_get_plain.pcap")
	taps := filepath.Join("..", "..", "testdata", "leak", "taps-http.pb_length_delimited")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{in, "-w", "out.txt"}, "name the file .pcap, .pcapng, .har, .json or .pb_length_delimited"},
		{[]string{in, "-w", "-"}, "--format"},
		{[]string{in, "-w", "x.pcap", "--format", "xml"}, "use pcap, pcapng, har, json or traces"},
		{[]string{in, "-w", "x.pcap", "--filter", "status >"}, "--filter"},
		{[]string{in, "-w", in}, "would overwrite the input"},
		{[]string{in, in, "-w", "x.pcap"}, "both hold a source named"},
		{[]string{in, "--flows", "--filter", "status == 200", "-w", "x.har"}, "HAR holds exchanges"},
		{[]string{in}, "--write is missing: say where to write the export"},
		{[]string{in, "-w", "x.pb_length_delimited"}, "takes Envoy tap traces only: write .pcapng"},
		{[]string{taps, "-w", "x.pb_length_delimited", "--filter", "status >= 500"}, "a trace export copies whole traces"},
	} {
		_, _, err := runTapview(t, nil, append([]string{"export"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("export %v: err %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}
