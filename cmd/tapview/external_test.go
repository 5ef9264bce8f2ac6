package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/sources"
)

// meshCapture writes a capture inside a sidecar pod (10.1.2.3), with the
// app's connections redirected as iptables and conntrack show them: DNS
// answers for pastebin.com and api.github.com, a request for pastebin.com
// that the sidecar answers itself with Istio's block_all 502, and one for
// api.github.com passed through in plaintext, so both legs carry it.
func meshCapture(t *testing.T) string {
	t.Helper()
	t0 := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	var pkts []sources.Packet
	for i, a := range []struct {
		name string
		ip   [4]byte
	}{{"pastebin.com", [4]byte{203, 0, 113, 7}}, {"api.github.com", [4]byte{140, 82, 112, 6}}} {
		u, err := synth.NewUDP(netip.AddrPortFrom(netip.MustParseAddr("10.1.2.3"), uint16(33000+i)), netip.MustParseAddrPort("10.96.0.10:53"), synth.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for dir, answer := range []bool{false, true} {
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: uint16(7 + i), Response: answer, RecursionDesired: true})
			qn := dnsmessage.MustNewName(a.name + ".")
			_ = b.StartQuestions()
			_ = b.Question(dnsmessage.Question{Name: qn, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
			if answer {
				_ = b.StartAnswers()
				_ = b.AResource(dnsmessage.ResourceHeader{Name: qn, Class: dnsmessage.ClassINET, TTL: 30}, dnsmessage.AResource{A: a.ip})
			}
			msg, err := b.Finish()
			if err != nil {
				t.Fatal(err)
			}
			p, err := u.Send(decode.Direction(dir), msg, t0.Add(time.Duration(i*10+dir)*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			pkts = append(pkts, p)
		}
	}
	// conn records one connection; orig, when set, is the destination
	// the app dialled, which iptables redirected to the sidecar: a
	// capture in the pod shows the replies coming from there (conntrack
	// undid the redirect before the capture saw them).
	conn := func(client, server, orig string, at time.Duration, req, resp string) {
		c, err := synth.NewTCP(netip.MustParseAddrPort(client), netip.MustParseAddrPort(server), synth.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ts := t0.Add(at)
		var cp []sources.Packet
		cp = append(cp, c.Open(ts)...)
		cp = append(cp, c.Send(decode.ClientToServer, []byte(req), ts.Add(time.Millisecond))...)
		cp = append(cp, c.Send(decode.ServerToClient, []byte(resp), ts.Add(5*time.Millisecond))...)
		cp = append(cp, c.Close(ts.Add(8*time.Millisecond))...)
		if orig != "" {
			asRedirected(t, cp, netip.MustParseAddrPort(server), netip.MustParseAddrPort(orig))
		}
		pkts = append(pkts, cp...)
	}
	conn("10.1.2.3:40001", "127.0.0.1:15001", "203.0.113.7:80", 100*time.Millisecond,
		"GET /raw/x1 HTTP/1.1\r\nHost: pastebin.com\r\n\r\n",
		"HTTP/1.1 502 Bad Gateway\r\nserver: envoy\r\ncontent-length: 0\r\n\r\n")
	zen := "GET /zen HTTP/1.1\r\nHost: api.github.com\r\n\r\n"
	conn("10.1.2.3:40002", "127.0.0.1:15001", "140.82.112.6:80", 200*time.Millisecond, zen,
		"HTTP/1.1 200 OK\r\nserver: envoy\r\nx-envoy-upstream-service-time: 4\r\ncontent-length: 2\r\n\r\nok")
	conn("10.1.2.3:50001", "140.82.112.6:80", "", 201*time.Millisecond, zen,
		"HTTP/1.1 200 OK\r\nserver: GitHub.com\r\ncontent-length: 2\r\n\r\nok")
	slices.SortStableFunc(pkts, func(a, b sources.Packet) int { return a.Timestamp.Compare(b.Timestamp) })
	var buf bytes.Buffer
	w, err := pcapw.NewPcap(&buf, sources.LinkEthernet, 0, true)
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
	path := filepath.Join(t.TempDir(), "mesh.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// asRedirected gives the packets from redirect the source orig, in place
// (IPv4 only; checksums are left as they were).
func asRedirected(t *testing.T, pkts []sources.Packet, redirect, orig netip.AddrPort) {
	t.Helper()
	var f link.Frame
	for i := range pkts {
		if err := link.Parse(pkts[i].LinkType, pkts[i].Data, &f); err != nil {
			t.Fatal(err)
		}
		if src, _ := f.AddrPorts(); src != redirect {
			continue
		}
		a := orig.Addr().As4()
		copy(pkts[i].Data[f.IPOffset+12:], a[:])
		binary.BigEndian.PutUint16(pkts[i].Data[f.TransportOffset:], orig.Port())
	}
}

func runLines(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("tapview %v: %v\n%s", args, err, errb.String())
	}
	var lines []map[string]any
	for _, l := range bytes.Split(out.Bytes(), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("invalid JSON line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestOpenExternalJSON(t *testing.T) {
	path := meshCapture(t)
	lines := runLines(t, "open", "-o", "json", "--external", path)
	var ext []map[string]any
	for _, l := range lines {
		switch l["type"] {
		case "external":
			ext = append(ext, l)
		case "exchange", "flow":
			t.Errorf("--external printed a record: %v", l)
		}
	}
	if len(ext) != 2 {
		t.Fatalf("external lines %v", ext)
	}
	blocked, passed := ext[0], ext[1]
	if blocked["name"] != "pastebin.com" || blocked["verdict"] != "blocked" || blocked["requests"] != 1.0 ||
		blocked["errors"] != 1.0 || !strings.Contains(blocked["reason"].(string), "502") {
		t.Errorf("blocked line %v", blocked)
	}
	if ips := blocked["ips"].([]any); len(ips) != 1 || ips[0] != "203.0.113.7" {
		t.Errorf("blocked ips %v", ips)
	}
	if passed["name"] != "api.github.com" || passed["verdict"] != "passed" || passed["requests"] != 1.0 || passed["errors"] != 0.0 {
		t.Errorf("passed line %v", passed)
	}
	if ips := passed["ips"].([]any); len(ips) != 1 || ips[0] != "140.82.112.6" {
		t.Errorf("passed ips %v", ips)
	}
	for _, l := range ext {
		if l["first"] == nil || l["last"] == nil || l["bytes"].(float64) <= 0 {
			t.Errorf("line lacks times or bytes: %v", l)
		}
	}
}

func TestOpenMeshJSON(t *testing.T) {
	path := meshCapture(t)
	var zen []map[string]any
	for _, l := range runLines(t, "open", "-o", "json", "--no-mask", path) {
		if l["type"] == "exchange" && l["path"] == "/zen" {
			zen = append(zen, l)
		}
	}
	if len(zen) != 1 || zen[0]["leg"] != "app" || zen[0]["direction"] != "outbound" || zen[0]["linked"] == nil {
		t.Fatalf("request shown %d times: %v", len(zen), zen)
	}
	// The filter variables see the labels, and the flows carry them.
	var legs []string
	for _, l := range runLines(t, "open", "-o", "json", "--flows", "--filter", `leg == "network" && direction == "outbound"`, path) {
		if l["type"] == "flow" {
			legs = append(legs, l["server"].(string))
		}
	}
	slices.Sort(legs)
	if strings.Join(legs, " ") != "10.96.0.10:53 10.96.0.10:53 140.82.112.6:80" {
		t.Errorf("network-leg outbound flows: %v", legs)
	}
}
