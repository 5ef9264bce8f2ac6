package redis

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/decodetest"
	"github.com/tapview/tapview/sources"
)

// unmonitored reports commands MONITOR does not show: administrative
// ones (DEBUG, CLIENT LIST) and commands refused before they ran
// (not authenticated, unknown command).
func unmonitored(e *decode.Exchange) bool {
	switch {
	case e.Method() == "DEBUG" || e.Method() == "CLIENT" && e.Path() == "LIST":
		return true
	case e.Query.ErrorCode == "NOAUTH" || strings.HasPrefix(e.Query.ReplyError, "ERR unknown command"):
		return true
	}
	return false
}

// commandsByPort groups the decoded commands (pushes and orphans left
// out) by client port, in order.
func commandsByPort(col *decodetest.Collector, skip uint16) map[uint16][]*decode.Exchange {
	out := map[uint16][]*decode.Exchange{}
	for _, e := range col.Exchanges() {
		if e.Request == nil || e.Request.HeaderValue("Pushed") != "" || e.Client.Port() == skip {
			continue
		}
		out[e.Client.Port()] = append(out[e.Client.Port()], e)
	}
	return out
}

// TestRecordingMatchesMonitor compares every command of the recording
// with what the server's MONITOR saw: same commands, keys, order and DB
// index on every connection, none missing, none extra.
func TestRecordingMatchesMonitor(t *testing.T) {
	col := decodePackets(t, readRecording(t))
	truth := readTruth(t)
	mon := monitorPort(t)
	got := commandsByPort(col, mon)
	want := map[uint16][]truthLine{}
	for _, l := range truth {
		want[l.port] = append(want[l.port], l)
	}
	if len(want) < 8 {
		t.Fatalf("truth has %d connections, want at least 8", len(want))
	}
	compared := 0
	for port, lines := range want {
		var cmds []*decode.Exchange
		for _, e := range got[port] {
			if !unmonitored(e) {
				cmds = append(cmds, e)
			}
		}
		if len(cmds) != len(lines) {
			t.Errorf("port %d: %d commands decoded, MONITOR saw %d", port, len(cmds), len(lines))
			continue
		}
		for i, l := range lines {
			e := cmds[i]
			if e.Method() != strings.ToUpper(l.args[0]) {
				t.Errorf("port %d #%d: method %q, MONITOR %q", port, i, e.Method(), l.args[0])
				continue
			}
			if len(l.args) > 1 && l.args[1] != "(redacted)" && e.Path() != l.args[1] {
				t.Errorf("port %d #%d %s: target %q, MONITOR %q", port, i, e.Method(), e.Path(), l.args[1])
			}
			if e.Query.Database != l.db {
				t.Errorf("port %d #%d %s %s: database %q, MONITOR %q", port, i, e.Method(), e.Path(), e.Query.Database, l.db)
			}
			if e.State != decode.Complete || e.Response == nil {
				t.Errorf("port %d #%d %s: state %s", port, i, e.Method(), e.State)
			}
			compared++
		}
		delete(got, port)
	}
	for port, es := range got {
		for _, e := range es {
			if !unmonitored(e) {
				t.Errorf("port %d: %s %s decoded, MONITOR never saw the connection", port, e.Method(), e.Path())
			}
		}
	}
	if compared != len(truth) {
		t.Errorf("compared %d commands, MONITOR has %d", compared, len(truth))
	}
}

// find returns the decoded commands with this method and target.
func find(col *decodetest.Collector, method, target string) []*decode.Exchange {
	var out []*decode.Exchange
	for _, e := range col.Exchanges() {
		if e.Method() == method && e.Path() == target {
			out = append(out, e)
		}
	}
	return out
}

func one(t *testing.T, col *decodetest.Collector, method, target string) *decode.Exchange {
	t.Helper()
	es := find(col, method, target)
	if len(es) != 1 {
		t.Fatalf("%d exchanges %s %q, want 1", len(es), method, target)
	}
	return es[0]
}

// TestRecordingReplies checks what the replies carry: errors and their
// codes, rows, transactions, pub/sub, protocol switch, identity, secrets.
func TestRecordingReplies(t *testing.T) {
	col := decodePackets(t, readRecording(t))

	wrong := find(col, "GET", "list:1")
	if len(wrong) != 2 {
		t.Fatalf("%d GET list:1, want 2 (RESP2 and RESP3)", len(wrong))
	}
	for _, e := range wrong {
		if e.Query.ErrorCode != "WRONGTYPE" || !strings.HasPrefix(e.Query.ReplyError, "WRONGTYPE Operation against a key") {
			t.Errorf("GET list:1: error %q code %q", e.Query.ReplyError, e.Query.ErrorCode)
		}
	}
	if e := one(t, col, "NOSUCHCOMMAND", "x"); e.Query.ErrorCode != "ERR" || !strings.Contains(e.Query.ReplyError, "unknown command") {
		t.Errorf("NOSUCHCOMMAND: error %q code %q", e.Query.ReplyError, e.Query.ErrorCode)
	}
	if e := one(t, col, "GET", "user:1"); e.Query.ReplyError != "" || string(e.Response.Body) != `"alice"` || e.Query.Rows != 1 {
		t.Errorf("GET user:1: body %q error %q rows %d", e.Response.Body, e.Query.ReplyError, e.Query.Rows)
	}
	if e := one(t, col, "LRANGE", "list:1"); e.Query.Rows != 3 || string(e.Response.Body) != "1) \"a\"\n2) \"b\"\n3) \"c\"" {
		t.Errorf("LRANGE: rows %d body %q", e.Query.Rows, e.Response.Body)
	}
	if e := one(t, col, "GET", "missing:1"); e.Query.Rows != 0 || string(e.Response.Body) != "(nil)" {
		t.Errorf("GET missing:1: rows %d body %q", e.Query.Rows, e.Response.Body)
	}
	big := one(t, col, "GET", "big:1")
	if big.Response.BodySize != int64(len("$12288\r\n")+12288+2) || !strings.Contains(string(big.Response.Body), strings.Repeat("x", 12288)) {
		t.Errorf("GET big:1: body size %d, %d bytes shown", big.Response.BodySize, len(big.Response.Body))
	}

	// MULTI/EXEC: queued commands say so, EXEC holds their results.
	for _, k := range []string{"SET", "INCR", "LPOP"} {
		e := one(t, col, k, "tx:1")
		if e.Response.HeaderValue("Transaction") != "queued" || string(e.Response.Body) != "QUEUED" {
			t.Errorf("%s tx:1: reply %q, Transaction %q", k, e.Response.Body, e.Response.HeaderValue("Transaction"))
		}
	}
	exec := one(t, col, "EXEC", "")
	if exec.Query.Rows != 3 || !strings.Contains(string(exec.Response.Body), "3) (error) WRONGTYPE") || !strings.HasPrefix(string(exec.Response.Body), "1) OK\n2) (integer) 11") {
		t.Errorf("EXEC: rows %d body %q", exec.Query.Rows, exec.Response.Body)
	}

	// Identity: SELECT, CLIENT SETNAME, HELLO AUTH SETNAME.
	if e := one(t, col, "SADD", "set:1"); e.Query.Database != "2" || e.Query.ClientID != "tapview-resp2" || e.Query.User != "default" {
		t.Errorf("SADD: database %q client %q user %q", e.Query.Database, e.Query.ClientID, e.Query.User)
	}
	hgetall := find(col, "HGETALL", "h:1")
	if len(hgetall) != 2 {
		t.Fatalf("%d HGETALL, want 2", len(hgetall))
	}
	r2, r3 := hgetall[0], hgetall[1]
	if r2.Request.Proto != "RESP2" || r2.Response.HeaderValue("Type") != "array" || r2.Query.Rows != 4 {
		t.Errorf("RESP2 HGETALL: %s %s rows %d", r2.Request.Proto, r2.Response.HeaderValue("Type"), r2.Query.Rows)
	}
	if r3.Request.Proto != "RESP3" || r3.Response.HeaderValue("Type") != "map" || r3.Query.Rows != 2 ||
		r3.Query.User != "alice" || r3.Query.ClientID != "tapview-resp3" ||
		string(r3.Response.Body) != "1# \"name\" => \"bob\"\n2# \"age\" => \"42\"" {
		t.Errorf("RESP3 HGETALL: %s %s rows %d user %q client %q body %q", r3.Request.Proto, r3.Response.HeaderValue("Type"),
			r3.Query.Rows, r3.Query.User, r3.Query.ClientID, r3.Response.Body)
	}

	// Pub/sub: confirmations gathered, messages pushed as exchanges.
	if e := one(t, col, "SUBSCRIBE", "news"); e.Query.Rows != 2 || e.State != decode.Complete {
		t.Errorf("SUBSCRIBE: rows %d state %s", e.Query.Rows, e.State)
	}
	if e := one(t, col, "PSUBSCRIBE", "new*"); e.Query.Rows != 1 || e.Response.HeaderValue("Type") != "push" {
		t.Errorf("PSUBSCRIBE: rows %d type %s", e.Query.Rows, e.Response.HeaderValue("Type"))
	}
	pushes := map[string]int{}
	for _, e := range col.Exchanges() {
		if e.Request != nil && e.Request.HeaderValue("Pushed") == "true" && e.Method() != "MONITOR" {
			pushes[e.Method()+" "+e.Path()]++
		}
	}
	wantPush := map[string]int{"MESSAGE news": 2, "MESSAGE sport": 1, "PMESSAGE news": 2, "SERVER-CPU-USAGE ": 1}
	if fmt.Sprint(pushes) != fmt.Sprint(wantPush) {
		t.Errorf("pushes %v, want %v", pushes, wantPush)
	}

	// MONITOR's event lines: one push each, naming the command.
	truth := readTruth(t)
	var events []*decode.Exchange
	for _, e := range col.Exchanges() {
		if e.Method() == "MONITOR" && e.Request.HeaderValue("Pushed") == "true" {
			events = append(events, e)
		}
	}
	if len(events) != len(truth) {
		t.Errorf("%d MONITOR events, monitor.txt has %d lines", len(events), len(truth))
	} else {
		for i, e := range events {
			if !strings.HasPrefix(e.Path(), strconv.Quote(truth[i].args[0])) {
				t.Errorf("MONITOR event %d: target %q, monitor.txt %v", i, e.Path(), truth[i].args)
			}
		}
	}

	// Pipelining and inline commands: replies in order.
	for i := 1; i <= 40; i++ {
		k := "pipe:" + strconv.Itoa(i)
		if e := one(t, col, "GET", k); string(e.Response.Body) != strconv.Quote(strconv.Itoa(i)) {
			t.Errorf("GET %s: %q", k, e.Response.Body)
		}
	}
	if e := one(t, col, "GET", "inline:1"); e.Request.HeaderValue("Inline") != "true" || string(e.Response.Body) != `"hello world"` {
		t.Errorf("inline GET: %q inline=%q", e.Response.Body, e.Request.HeaderValue("Inline"))
	}
	if n := len(col.Exchanges()); n < 250 {
		t.Errorf("%d exchanges", n)
	}

	// Secrets: only in Password headers.
	pw := passwords(t)
	auths := 0
	for _, e := range col.Exchanges() {
		for _, m := range []*decode.Message{e.Request, e.Response} {
			if m == nil {
				continue
			}
			for _, p := range pw {
				if strings.Contains(string(m.Body), p) || strings.Contains(m.Target, p) {
					t.Errorf("%s %s: a password in the body or target", e.Method(), e.Path())
				}
			}
		}
		if e.Method() == "AUTH" || e.Method() == "HELLO" && e.Request.HeaderValue("Password") != "" {
			auths++
			got := e.Request.HeaderValue("Password")
			if !slices.Contains(pw, got) || !strings.Contains(string(e.Request.Body), "<password>") {
				t.Errorf("%s: Password header %q, body %q", e.Method(), got, e.Request.Body)
			}
		}
	}
	if auths < 10 {
		t.Errorf("%d AUTH/HELLO AUTH exchanges, want at least 10", auths)
	}
}

// TestRecordingMatchesTshark compares, per connection, the commands sent
// as RESP arrays with the arrays tshark's RESP dissector finds going to
// the server (two-pass, so each array is counted once, reassembled).
func TestRecordingMatchesTshark(t *testing.T) {
	if exec.Command("tshark", "-v").Run() != nil {
		t.Skip("tshark is not installed (scripts/test-deps.sh installs it)")
	}
	col := decodePackets(t, readRecording(t))
	var server uint16
	ours := map[string]int{}
	for _, e := range col.Exchanges() {
		server = e.Server.Port()
		if e.Request != nil && e.Request.BodySize > 0 && e.Request.HeaderValue("Inline") == "" {
			ours[strconv.Itoa(int(e.Client.Port()))]++
		}
	}
	port := strconv.Itoa(int(server))
	out, err := exec.Command("tshark", "-2", "-n", "-r", filepath.Join(recDir, "redis.pcap"),
		"-d", "tcp.port=="+port+",resp", "-Y", "tcp.dstport=="+port,
		"-T", "fields", "-e", "tcp.srcport", "-e", "resp.array.length").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	theirs := map[string]int{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Split(l, "\t")
		if len(f) == 2 && f[1] != "" {
			theirs[f[0]] += len(strings.Split(f[1], ","))
		}
	}
	if len(theirs) < 8 || fmt.Sprint(ours) != fmt.Sprint(theirs) {
		t.Errorf("commands per client port: tapview %v, tshark %v", ours, theirs)
	}
}

// TestMidStreamJoin drops the start of the RESP2 connection (its
// handshake and first commands, cutting into a message) and checks that
// decoding resumes at a command boundary and matches MONITOR from there.
func TestMidStreamJoin(t *testing.T) {
	pkts := readRecording(t)
	full := decodePackets(t, pkts)
	port := one(t, full, "CLIENT", "SETNAME").Client.Port()
	truth := readTruth(t)
	var want []truthLine
	for _, l := range truth {
		if l.port == port {
			want = append(want, l)
		}
	}
	for _, drop := range []int{12, 17, 24, 33} {
		t.Run(strconv.Itoa(drop), func(t *testing.T) {
			var kept []sources.Packet
			n := 0
			for _, p := range pkts {
				if isPort(p, port) {
					n++
					if n <= drop {
						continue
					}
				}
				kept = append(kept, p)
			}
			col := decodePackets(t, kept)
			var got []*decode.Exchange
			for _, e := range commandsByPort(col, 0)[port] {
				if !unmonitored(e) {
					got = append(got, e)
				}
			}
			if len(got) == 0 || len(got) >= len(want) {
				t.Fatalf("%d commands after dropping %d packets (%d in all)", len(got), drop, len(want))
			}
			tail := want[len(want)-len(got):]
			for i, e := range got {
				if e.Method() != tail[i].args[0] || len(tail[i].args) > 1 && e.Path() != tail[i].args[1] {
					t.Errorf("#%d: %s %s, MONITOR %v", i, e.Method(), e.Path(), tail[i].args)
				}
			}
			last := got[len(got)-1]
			if last.Method() != "DEL" || last.State != decode.Complete {
				t.Errorf("last: %s %s", last.Method(), last.State)
			}
		})
	}
}

// isPort reports a packet of the connection whose client port is port.
func isPort(p sources.Packet, port uint16) bool {
	d := p.Data
	// Loopback captures: Ethernet (14 bytes, zero addresses) or Linux
	// cooked; find the IPv4 header by its version nibble.
	for off := 0; off+24 <= len(d) && off <= 16; off += 2 {
		if d[off]>>4 == 4 && d[off+9] == 6 {
			ihl := int(d[off]&15) * 4
			tcp := d[off+ihl:]
			if len(tcp) < 4 {
				return false
			}
			sp, dp := uint16(tcp[0])<<8|uint16(tcp[1]), uint16(tcp[2])<<8|uint16(tcp[3])
			return sp == port || dp == port
		}
	}
	return false
}

// TestResyncMidMessage starts the RESP2 connection's command stream in
// the middle of the 12 KB SET (no replies): the commands after it are
// found, and end Orphan for want of replies.
func TestResyncMidMessage(t *testing.T) {
	var c2s []byte
	for _, b := range streams(t) {
		if strings.Contains(string(b[0]), "tapview-resp2") {
			c2s = b[0]
		}
	}
	at := strings.Index(string(c2s), "xxxxxxxx")
	if at < 0 {
		t.Fatal("the big value is not in the recording")
	}
	c := newFakeConn(t)
	c.FlowInfo.Partial = true
	h := New().New(c)
	for i := at + 100; i < len(c2s); i += 7 {
		h.Data(decode.ClientToServer, c2s[i:min(i+7, len(c2s))], t0)
	}
	h.End(decode.FlowClosed, t0)
	var got []string
	for _, e := range c.Exchanges() {
		if e.State != decode.Orphan {
			t.Errorf("%s: %s", e.Method(), e.State)
		}
		got = append(got, e.Method()+" "+e.Path())
	}
	if want := "STRLEN big:1,GET big:1,GET missing:1,DEL user:1"; strings.Join(got, ",") != want {
		t.Errorf("commands %q, want %q", strings.Join(got, ","), want)
	}
}
