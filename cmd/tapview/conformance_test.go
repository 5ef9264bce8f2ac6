package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/decode/link/corpustest"
)

// Public conformance material: other projects' test captures compared
// with tshark exchange by exchange. What both sides are reduced to is a
// sorted list of lines per file: "REQ METHOD TARGET" per HTTP/1 or HTTP/2
// request, "RESP STATUS" per response, "DNSQ NAME" per DNS query,
// "DNSR NAME" per DNS response and "WS KIND" per WebSocket frame. A file passes when the lists are equal.

// tsharkFields are the fields tsharkLines reads, in column order.
var tsharkFields = []string{
	"frame.protocols",
	"http.request.method", "http.request.uri", "http.response.code",
	"http2.headers.method", "http2.headers.path", "http2.headers.status",
	"dns.flags.response", "dns.qry.name",
	"websocket.opcode",
	"ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
}

// tsharkFrame is one frame's fields, each a list of occurrences.
type tsharkFrame struct {
	protocols string
	col       map[string][]string
}

// innerAddrs returns the innermost source and destination address of the
// frame: of the IP family its protocol chain ends with, the last
// occurrence.
func (f tsharkFrame) innerAddrs() (src, dst string) {
	last := func(v []string) string {
		if len(v) == 0 {
			return ""
		}
		return v[len(v)-1]
	}
	chain := ":" + f.protocols + ":"
	if strings.LastIndex(chain, ":ipv6:") > strings.LastIndex(chain, ":ip:") {
		return last(f.col["ipv6.src"]), last(f.col["ipv6.dst"])
	}
	return last(f.col["ip.src"]), last(f.col["ip.dst"])
}

// tunnelKind is the outermost encapsulation in the frame's protocol
// chain that tapview removes, named as tapview's JSON names it: an IP
// layer right after an IP layer is "ipip"; "gre", "vxlan" and "geneve"
// count when an IP packet follows them.
func (f tsharkFrame) tunnelKind() string {
	layers := strings.Split(f.protocols, ":")
	pending := ""
	for i, l := range layers {
		switch l {
		case "ip", "ipv6":
			if i > 0 && (layers[i-1] == "ip" || layers[i-1] == "ipv6") {
				return "ipip"
			}
			if pending != "" {
				return pending
			}
		case "gre", "vxlan", "geneve":
			pending = l
		case "eth", "ethertype", "vlan", "udp":
		default:
			if pending != "" {
				return ""
			}
		}
	}
	return ""
}

// hasLayer reports whether the frame's protocol chain holds layer.
func (f tsharkFrame) hasLayer(layer string) bool {
	return slices.Contains(strings.Split(f.protocols, ":"), layer)
}

// tsharkFramesByFile runs tshark over files and returns each file's
// frames, and the runs the files were grouped in. Files are read in as few runs as possible (tshark's start-up
// dominates): mergecap appends the files of a run, and files that share
// a connection's endpoints go to different runs, so tshark's stream
// reassembly never joins two files' connections.
func tsharkFramesByFile(t *testing.T, files []string) (map[string][]tsharkFrame, [][]string) {
	t.Helper()
	type batch struct {
		files []string
		keys  map[string]bool
	}
	var batches []*batch
	counts := map[string]int{}
	for _, file := range files {
		pkts, err := corpustest.ReadPath(file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		counts[file] = len(pkts)
		keys := map[string]bool{}
		var f link.Frame
		for _, p := range pkts {
			if link.Parse(p.LinkType, p.Data, &f) != nil {
				continue
			}
			a := netip.AddrPortFrom(f.Src, f.SrcPort).String()
			b := netip.AddrPortFrom(f.Dst, f.DstPort).String()
			if a > b {
				a, b = b, a
			}
			keys[fmt.Sprint(f.Proto, a, b)] = true
		}
		var home *batch
		for _, b := range batches {
			clash := false
			for k := range keys {
				if b.keys[k] {
					clash = true
					break
				}
			}
			if !clash {
				home = b
				break
			}
		}
		if home == nil {
			home = &batch{keys: map[string]bool{}}
			batches = append(batches, home)
		}
		home.files = append(home.files, file)
		for k := range keys {
			home.keys[k] = true
		}
	}
	out := map[string][]tsharkFrame{}
	var runs [][]string
	for i, b := range batches {
		runs = append(runs, b.files)
		merged := filepath.Join(t.TempDir(), fmt.Sprintf("run%d.pcapng", i))
		if msg, err := exec.Command("mergecap", append([]string{"-a", "-w", merged}, b.files...)...).CombinedOutput(); err != nil {
			t.Fatalf("mergecap: %v: %s", err, msg)
		}
		args := []string{"-n", "-r", merged, "-o", "tcp.reassemble_out_of_order:TRUE",
			"-T", "fields", "-E", "occurrence=a", "-E", "aggregator=\x1f"}
		for _, f := range tsharkFields {
			args = append(args, "-e", f)
		}
		raw, err := exec.Command("tshark", args...).Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
		next := 0
		for _, file := range b.files {
			n := counts[file]
			if next+n > len(lines) {
				t.Fatalf("%s: tshark listed %d frames, fewer than read", file, len(lines))
			}
			for _, line := range lines[next : next+n] {
				cols := strings.Split(line, "\t")
				fr := tsharkFrame{protocols: cols[0], col: map[string][]string{}}
				for j, name := range tsharkFields {
					if j < len(cols) && cols[j] != "" {
						fr.col[name] = strings.Split(cols[j], "\x1f")
					}
				}
				out[file] = append(out[file], fr)
			}
			next += n
		}
		if next != len(lines) {
			t.Fatalf("read %d frames, tshark listed %d", next, len(lines))
		}
	}
	return out, runs
}

// wsOpcodes names tshark's websocket.opcode values as tapview's JSON
// names a WebSocket frame's kind.
var wsOpcodes = map[string]string{"0": "continuation", "1": "text", "2": "binary", "8": "close", "9": "ping", "10": "pong"}

// tsharkLines reduces a file's frames to the comparison lines. DNS
// carried in HTTP (DoH: tapview shows the HTTP exchange) or quoted in an
// ICMP error is not a DNS exchange.
func tsharkLines(frames []tsharkFrame, withAddrs bool) []string {
	var out []string
	for _, f := range frames {
		pre := ""
		if withAddrs {
			src, dst := f.innerAddrs()
			pre = src + " " + dst + " "
		}
		meth, uri := f.col["http.request.method"], f.col["http.request.uri"]
		for i := range meth {
			u := ""
			if i < len(uri) {
				u = uri[i]
			}
			out = append(out, pre+"REQ "+meth[i]+" "+u)
		}
		for _, c := range f.col["http.response.code"] {
			out = append(out, pre+"RESP "+c)
		}
		meth, uri = f.col["http2.headers.method"], f.col["http2.headers.path"]
		for i := range meth {
			u := ""
			if i < len(uri) {
				u = uri[i]
			}
			out = append(out, pre+"REQ "+meth[i]+" "+u)
		}
		for _, c := range f.col["http2.headers.status"] {
			out = append(out, pre+"RESP "+c)
		}
		for _, op := range f.col["websocket.opcode"] {
			out = append(out, pre+"WS "+wsOpcodes[op])
		}
		if f.hasLayer("icmp") || f.hasLayer("icmpv6") || f.hasLayer("http") || f.hasLayer("http2") {
			continue
		}
		names := f.col["dns.qry.name"]
		for i, r := range f.col["dns.flags.response"] {
			name := ""
			if i < len(names) {
				name = names[i]
			}
			kind := "DNSQ "
			if r == "1" || r == "True" {
				kind = "DNSR "
			}
			out = append(out, pre+kind+name)
		}
	}
	slices.Sort(out)
	return out
}

// confExchange is what the comparison reads of `tapview open -o json`:
// an exchange line, or with --flows a flow line.
type confExchange struct {
	Type   string `json:"type"`
	Source string `json:"source"`
	ID     int    `json:"id"`
	Flow   int    `json:"flow"`
	Tunnel *struct {
		Kind string `json:"kind"`
	} `json:"tunnel"`
	Proto   string `json:"proto"`
	Stream  int    `json:"stream"`
	Client  string `json:"client"`
	Server  string `json:"server"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	Status  int    `json:"status"`
	Interim []int  `json:"interim"`
	DNSName string `json:"dns_name"`
	ReqB    int    `json:"req_body_bytes"`
	RespB   int    `json:"resp_body_bytes"`
	RCode   string `json:"dns_rcode"`
	// WebSocket frames (with --bodies), both directions.
	ReqParts  []struct{ Kind string } `json:"req_body_parts"`
	RespParts []struct{ Kind string } `json:"resp_body_parts"`
}

// tapviewExchanges runs `tapview open -o json` once per run of files
// (files of one run share no connection endpoints) and returns each
// file's exchanges, and with flows its flows, by base name.
func tapviewExchanges(t *testing.T, runs [][]string, flows bool) map[string][]confExchange {
	t.Helper()
	out := map[string][]confExchange{}
	for _, files := range runs {
		args := []string{"open", "-o", "json", "--no-mask", "--bodies"}
		if flows {
			args = append(args, "--flows")
		}
		stdout, stderr, err := runTapview(t, nil, append(args, files...)...)
		if err != nil {
			t.Fatalf("tapview open: %v\n%s", err, stderr)
		}
		for _, l := range bytes.Split(stdout, []byte("\n")) {
			var e confExchange
			if len(l) == 0 || json.Unmarshal(l, &e) != nil || e.Type != map[bool]string{false: "exchange", true: "flow"}[flows] {
				continue
			}
			out[e.Source] = append(out[e.Source], e)
		}
	}
	return out
}

// tapviewLines reduces one file's exchanges to the comparison lines.
func tapviewLines(exs []confExchange, withAddrs bool) []string {
	var lines []string
	upgraded := map[int]bool{} // flows an HTTP/1.1 101 switched (to h2c)
	for _, e := range exs {
		fwd, rev := "", ""
		if withAddrs {
			c, _ := netip.ParseAddrPort(e.Client)
			s, _ := netip.ParseAddrPort(e.Server)
			fwd = c.Addr().String() + " " + s.Addr().String() + " "
			rev = s.Addr().String() + " " + c.Addr().String() + " "
		}
		switch {
		case e.Proto == "dns":
			if e.ReqB > 0 {
				lines = append(lines, fwd+"DNSQ "+e.DNSName)
			}
			if e.RespB > 0 {
				lines = append(lines, rev+"DNSR "+e.DNSName)
			}
		case e.Proto == "ws":
			for _, p := range append(e.ReqParts, e.RespParts...) {
				lines = append(lines, "WS "+p.Kind)
			}
		case strings.HasPrefix(e.Proto, "http/") || e.Proto == "h2" || e.Proto == "grpc":
			// Stream 1 of an upgraded connection shows the HTTP/1.1
			// request of the 101 exchange again (RFC 7540 §3.2).
			if e.Method != "" && !(e.Proto == "h2" && e.Stream == 1 && upgraded[e.Flow]) {
				lines = append(lines, fwd+"REQ "+e.Method+" "+e.Path)
			}
			if strings.HasPrefix(e.Proto, "http/") && e.Status == 101 {
				upgraded[e.Flow] = true
			}
			if e.Status != 0 {
				lines = append(lines, rev+fmt.Sprintf("RESP %d", e.Status))
			}
			for _, st := range e.Interim {
				lines = append(lines, rev+fmt.Sprintf("RESP %d", st))
			}
		}
	}
	slices.Sort(lines)
	return lines
}

// lineDiff says which lines only one side has.
func lineDiff(got, want []string) string {
	count := map[string]int{}
	for _, l := range got {
		count[l]++
	}
	for _, l := range want {
		count[l]--
	}
	var b strings.Builder
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch n := count[k]; {
		case n > 0:
			fmt.Fprintf(&b, "  only tapview (%d): %q\n", n, k)
		case n < 0:
			fmt.Fprintf(&b, "  only tshark (%d): %q\n", -n, k)
		}
	}
	return b.String()
}
