package postgres

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

// logStmt is one statement the server logged, with the error it raised.
type logStmt struct {
	sql, params string
	errMsg      string // "ERROR: message" without the log's "at character N"
	errCode     string
}

// serverTruth is what server.log says about each TCP connection, keyed
// by the client's port.
type serverTruth struct {
	stmts   map[uint16][]*logStmt
	fatal   map[uint16]*logStmt
	appName map[uint16]string
}

var logLine = regexp.MustCompile(`^\S+ \S+ UTC \[(\d+)\] \S+ (\w{5}) (\w+):  (.*)$`)
var atChar = regexp.MustCompile(` at character \d+$`)
var binInt = regexp.MustCompile(`'\\x[0-9a-f]{8}'`)

// readServerLog parses server.log (log_line_prefix '%m [%p] %q%u@%d %e ').
func readServerLog(t *testing.T) serverTruth {
	t.Helper()
	f, err := os.Open(filepath.Join(recDir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := serverTruth{stmts: map[uint16][]*logStmt{}, fatal: map[uint16]*logStmt{}, appName: map[uint16]string{}}
	port := map[string]uint16{}
	last := map[string]*logStmt{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := logLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		pid, code, level, text := m[1], m[2], m[3], m[4]
		if p, ok := strings.CutPrefix(text, "connection received: host=127.0.0.1 port="); ok {
			n, _ := strconv.Atoi(p)
			port[pid] = uint16(n)
			continue
		}
		cp, ok := port[pid]
		if !ok {
			continue // the Unix-socket setup connections
		}
		switch {
		case level == "LOG" && strings.HasPrefix(text, "connection authorized: "):
			if i := strings.Index(text, "application_name="); i >= 0 {
				tr.appName[cp] = strings.Fields(text[i+len("application_name="):])[0]
			}
		case level == "LOG" && strings.HasPrefix(text, "statement: "):
			s := &logStmt{sql: strings.TrimPrefix(text, "statement: ")}
			tr.stmts[cp] = append(tr.stmts[cp], s)
			last[pid] = s
		case level == "LOG" && strings.HasPrefix(text, "execute "):
			_, sql, _ := strings.Cut(text, ": ")
			s := &logStmt{sql: sql}
			tr.stmts[cp] = append(tr.stmts[cp], s)
			last[pid] = s
		case level == "DETAIL" && strings.HasPrefix(text, "parameters: ") && last[pid] != nil:
			last[pid].params = strings.TrimPrefix(text, "parameters: ")
		case level == "ERROR":
			s := &logStmt{errMsg: "ERROR: " + atChar.ReplaceAllString(text, ""), errCode: code}
			last[pid] = s
			tr.stmts[cp] = append(tr.stmts[cp], s) // joined with its STATEMENT below
		case level == "STATEMENT" && last[pid] != nil && last[pid].sql == "":
			// An error's statement: the one logged just before it, or one
			// that failed before it was logged (an Execute).
			s := last[pid]
			list := tr.stmts[cp]
			if n := len(list); n >= 2 && list[n-2].sql == text && list[n-2].errMsg == "" {
				list[n-2].errMsg, list[n-2].errCode = s.errMsg, s.errCode
				tr.stmts[cp] = list[:n-1]
			} else {
				s.sql = text
			}
		case level == "FATAL":
			tr.fatal[cp] = &logStmt{errMsg: "FATAL: " + text, errCode: code}
		}
	}
	return tr
}

// statements returns the exchanges of a flow that the server logs
// (statements, not startup, prepare-only or pushed ones), with the parts
// of one simple Query joined as the server logged them.
func statements(xs []*decode.Exchange) []*logStmt {
	var out []*logStmt
	for _, e := range xs {
		r := e.Request
		if r == nil || r.HeaderValue("Pushed") != "" {
			continue
		}
		switch r.Method {
		case "STARTUP", "SSLREQUEST", "GSSENCREQUEST", "CANCEL", "PREPARE", "CLOSE", "DESCRIBE", "BIND":
			continue
		}
		s := &logStmt{sql: r.Target, errMsg: e.Query.ReplyError, errCode: e.Query.ErrorCode}
		if _, p, ok := strings.Cut(string(r.Body), "\n\nparameters: "); ok {
			s.params = p
		}
		part := r.HeaderValue("Statement-Part")
		if part != "" && !strings.HasPrefix(part, "1/") && len(out) > 0 {
			prev := out[len(out)-1]
			if e.Error != "" && strings.HasPrefix(e.Error, "not executed") {
				prev.sql += " " + r.Target
				continue
			}
			prev.sql += " " + r.Target
			if s.errMsg != "" {
				prev.errMsg, prev.errCode = s.errMsg, s.errCode
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// isTLS reports a connection whose SSLRequest was answered 'S'.
func isTLS(xs []*decode.Exchange) bool {
	for _, e := range xs {
		if e.Request != nil && e.Request.Method == "SSLREQUEST" && e.Response.HeaderValue("Answer") == "S" {
			return true
		}
	}
	return false
}

// byPort groups exchanges by the client port of their flow.
func byPort(xs []*decode.Exchange) map[uint16][]*decode.Exchange {
	out := map[uint16][]*decode.Exchange{}
	for _, e := range xs {
		out[e.Client.Port()] = append(out[e.Client.Port()], e)
	}
	return out
}

// TestRecordingMatchesServerLog compares every statement exchange of the
// recording with the server's own log: order, text, bind parameters,
// error message and SQLSTATE; and each startup's user, database and
// authentication failure.
func TestRecordingMatchesServerLog(t *testing.T) {
	col := decodePackets(t, readRecording(t))
	tr := readServerLog(t)
	flows := byPort(col.Exchanges())
	if len(tr.stmts) < 5 {
		t.Fatalf("server.log has statements of %d connections; re-record", len(tr.stmts))
	}
	checked := 0
	for port, want := range tr.stmts {
		if isTLS(flows[port]) {
			continue // encrypted: no keys for this connection
		}
		got := statements(flows[port])
		if len(got) != len(want) {
			t.Errorf("port %d (%s): %d statements decoded, the log has %d", port, tr.appName[port], len(got), len(want))
			for _, g := range got {
				t.Logf("  got  %q %s", g.sql, g.errMsg)
			}
			for _, w := range want {
				t.Logf("  want %q %s", w.sql, w.errMsg)
			}
			continue
		}
		for i, w := range want {
			g := got[i]
			// pgx sends int4 parameters in binary; the log shows them as
			// the server read them.
			params := binInt.ReplaceAllStringFunc(g.params, func(x string) string {
				n, _ := strconv.ParseUint(x[3:11], 16, 32)
				return "'" + strconv.Itoa(int(int32(n))) + "'"
			})
			if w.params == "" {
				params = "" // an Execute that failed is logged without them
			}
			if g.sql != w.sql || params != w.params || g.errMsg != w.errMsg || g.errCode != w.errCode {
				t.Errorf("port %d statement %d:\n got %q [%s] %q %s\nwant %q [%s] %q %s", port, i, g.sql, g.params, g.errMsg, g.errCode, w.sql, w.params, w.errMsg, w.errCode)
			}
			checked++
		}
	}
	for port, f := range tr.fatal {
		var st *decode.Exchange
		for _, e := range flows[port] {
			if e.Request != nil && e.Request.Method == "STARTUP" {
				st = e
			}
		}
		if st == nil || st.Query.ReplyError != f.errMsg || st.Query.ErrorCode != f.errCode {
			t.Errorf("port %d: startup %+v, want error %q %s", port, st, f.errMsg, f.errCode)
		}
	}
	if len(tr.fatal) == 0 {
		t.Error("the recording has no failed login")
	}
	// Every startup names the user and database the server authorized.
	for port, app := range tr.appName {
		for _, e := range flows[port] {
			if m := e.Request.Method; m == "SSLREQUEST" || m == "CANCEL" {
				continue // sent before the startup, or on a connection of its own
			}
			if e.Query.User != "appuser" && e.Query.User != "md5user" || e.Query.Database != "appdb" {
				t.Errorf("port %d (%s): %s exchange has user %q database %q", port, app, e.Request.Method, e.Query.User, e.Query.Database)
			}
		}
	}
	t.Logf("%d statements of %d connections match the server log", checked, len(tr.stmts))
}

// TestRecordingRows checks rendered rows against what the clients
// printed: psql's table for a SELECT, COPY TO STDOUT's lines, and the
// pgx client's rows (binary format: int4 and text values in hex).
func TestRecordingRows(t *testing.T) {
	col := decodePackets(t, readRecording(t))
	client, err := os.ReadFile(filepath.Join(recDir, "client.txt"))
	if err != nil {
		t.Fatal(err)
	}
	find := func(method, target string) *decode.Exchange {
		for _, e := range col.Exchanges() {
			if e.Request != nil && e.Request.Method == method && e.Request.Target == target {
				return e
			}
		}
		t.Fatalf("no %s exchange %q", method, target)
		return nil
	}
	// psql's aligned table after the echoed statement.
	sel := "SELECT id, name, qty, note FROM items ORDER BY id;"
	e := find("SELECT", sel)
	table := psqlTable(t, string(client), sel)
	lines := strings.Split(strings.TrimSuffix(string(e.Response.Body), "\n"), "\n")
	if len(lines) != len(table) || e.Query.Rows != int64(len(table)-1) {
		t.Fatalf("%d lines, rows %d; psql printed %d (header included)", len(lines), e.Query.Rows, len(table))
	}
	for i, l := range lines {
		var cells []string
		for _, v := range strings.Split(l, "\t") {
			v = strings.ReplaceAll(v, `\t`, "\t")
			if v == `\N` {
				v = ""
			}
			cells = append(cells, strings.Join(strings.Fields(v), " "))
		}
		if strings.Join(cells, "|") != table[i] {
			t.Errorf("row %d: %q, psql printed %q", i, strings.Join(cells, "|"), table[i])
		}
	}
	// COPY TO STDOUT: the data lines as psql wrote them.
	cp := find("COPY", "COPY (SELECT name, qty FROM items ORDER BY id) TO STDOUT;")
	if !strings.Contains(string(client), "TO STDOUT;\n"+string(cp.Response.Body)) || cp.Query.Rows != 6 {
		t.Errorf("COPY TO STDOUT body %q rows %d not as psql printed", cp.Response.Body, cp.Query.Rows)
	}
	if v := cp.Response.HeaderValue("Copy-Out"); !strings.HasPrefix(v, "6 messages") {
		t.Errorf("Copy-Out %q", v)
	}
	in := find("COPY", "COPY items (name, qty, note) FROM STDIN;")
	if string(in.Request.Body) != "COPY items (name, qty, note) FROM STDIN;\ncherry\t11\tcopied\ngrape\t12\t\\N\n\\.\n" || in.Query.Rows != 2 ||
		in.Request.HeaderValue("Copy-In") != "1 messages, 32 bytes" {
		t.Errorf("COPY FROM STDIN: body %q rows %d Copy-In %q", in.Request.Body, in.Query.Rows, in.Request.HeaderValue("Copy-In"))
	}
	// pgx: int4 columns in binary (hex), text in text.
	x := find("EXECUTE", "SELECT id, name, qty FROM items WHERE qty >= $1 ORDER BY id")
	var got []string
	xl := strings.Split(strings.TrimSuffix(string(x.Response.Body), "\n"), "\n")
	if xl[0] != "id\tname\tqty" {
		t.Errorf("EXECUTE sel_items: header %q, want the columns its Describe reported", xl[0])
	}
	for _, l := range xl[1:] {
		f := strings.Split(l, "\t")
		dec := func(s string) []byte {
			b, err := hex.DecodeString(strings.TrimPrefix(s, `\x`))
			if err != nil {
				t.Fatalf("value %q of %q is not binary hex", s, l)
			}
			return b
		}
		got = append(got, "row "+strconv.Itoa(int(binary.BigEndian.Uint32(dec(f[0]))))+"\t"+f[1]+"\t"+strconv.Itoa(int(binary.BigEndian.Uint32(dec(f[2])))))
	}
	if want := "\n" + strings.Join(got, "\n") + "\nEXECUTE sel_items (10): 4 rows"; len(got) != 4 || !strings.Contains(string(client), want) {
		t.Errorf("pgx rows decoded as %q; client.txt lacks them", got)
	}
	// Notifications are exchanges of their own.
	n := 0
	for _, e := range col.Exchanges() {
		if e.Request != nil && e.Request.Method == "NOTIFICATION" {
			n++
			if e.Request.Target != "jobs" || !strings.HasPrefix(string(e.Response.Body), "job-4") {
				t.Errorf("notification %q %q", e.Request.Target, e.Response.Body)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d notifications, want 2", n)
	}
}

// psqlTable returns the header and rows psql printed after the echoed
// statement, cells trimmed and joined with '|'.
func psqlTable(t *testing.T, client, stmt string) []string {
	_, after, ok := strings.Cut(client, stmt+"\n")
	if !ok {
		t.Fatalf("client.txt lacks %q", stmt)
	}
	var out []string
	for i, l := range strings.Split(after, "\n") {
		if i == 1 || strings.HasPrefix(l, "---") {
			continue
		}
		if strings.HasPrefix(l, "(") {
			break
		}
		var cells []string
		for _, c := range strings.Split(l, "|") {
			cells = append(cells, strings.Join(strings.Fields(c), " "))
		}
		out = append(out, strings.Join(cells, "|"))
	}
	return out
}

// TestRecordingTsharkCounts compares message counts with tshark's pgsql
// dissector on the same capture.
func TestRecordingTsharkCounts(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (scripts/test-deps.sh installs it)")
	}
	port, err := os.ReadFile(filepath.Join(recDir, "port.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tshark", "-r", filepath.Join(recDir, "postgres.pcap"), "-d", "tcp.port=="+strings.TrimSpace(string(port))+",pgsql",
		"-Y", "pgsql", "-T", "fields", "-e", "pgsql.type").Output()
	if err != nil {
		t.Fatal(err)
	}
	ts := map[string]int{}
	for _, l := range strings.Fields(strings.ReplaceAll(string(out), " ", "_")) {
		for _, typ := range strings.Split(l, ",") {
			ts[strings.ReplaceAll(typ, "_", " ")]++
		}
	}
	col := decodePackets(t, readRecording(t))
	ours := map[string]int{}
	for _, e := range col.Exchanges() {
		r := e.Request
		if r == nil {
			continue
		}
		switch r.Method {
		case "STARTUP":
			ours["Startup message"]++
		case "SSLREQUEST":
			ours["SSL request"]++
		case "CANCEL":
			ours["Cancel request"]++
		}
		if e.Query.ReplyError != "" {
			ours["Error"]++
		}
		for _, h := range r.Headers {
			switch h.Name {
			case "Parse":
				ours["Parse"]++
			case "Bind":
				ours["Bind"]++
			}
		}
		if r.HeaderValue("Bind") != "" && e.Response != nil && (e.Response.HeaderValue("Command-Tag") != "" || e.Query.ReplyError != "") {
			ours["Execute"]++
		}
		part := r.HeaderValue("Statement-Part")
		if r.HeaderValue("Bind") == "" && r.HeaderValue("Parse") == "" && r.HeaderValue("Close") == "" && r.HeaderValue("Pushed") == "" &&
			r.Method != "STARTUP" && r.Method != "SSLREQUEST" && r.Method != "CANCEL" && (part == "" || strings.HasPrefix(part, "1/")) {
			ours["Simple query"]++
		}
		if r.Method == "NOTIFICATION" {
			ours["Notification"]++
		}
	}
	for _, k := range []string{"Startup message", "SSL request", "Cancel request", "Error", "Parse", "Bind", "Execute", "Simple query", "Notification"} {
		if ours[k] != ts[k] || ts[k] == 0 {
			t.Errorf("%s: decoded %d, tshark %d", k, ours[k], ts[k])
		}
	}
	t.Logf("tshark %v", ts)
}

// TestMidStreamJoin drops the start of the busiest connection (its
// handshake, startup and first statements): the decoder must find the
// messages again and decode the rest as the full capture does.
func TestMidStreamJoin(t *testing.T) {
	pkts := readRecording(t)
	full := decodePackets(t, pkts)
	// The connection with the most exchanges, and its packets.
	var best *decode.Flow
	count := map[uint64]int{}
	for _, e := range full.Exchanges() {
		count[e.FlowID]++
	}
	for _, f := range full.Flows() {
		if best == nil || count[f.ID] > count[best.ID] {
			best = f
		}
	}
	drop := map[uint64]bool{}
	for _, o := range best.Ordinals[:len(best.Ordinals)/3] {
		drop[o] = true
	}
	var kept = pkts[:0:0]
	for _, p := range pkts {
		if !drop[p.Ordinal] {
			kept = append(kept, p)
		}
	}
	joined := decodePackets(t, kept)
	want := map[string]bool{}
	for _, e := range full.Exchanges() {
		if e.FlowID == best.ID && e.Request != nil {
			want[e.Request.Method+" "+e.Request.Target] = true
		}
	}
	matched, total := 0, 0
	port := best.Client.Port()
	for _, e := range joined.Exchanges() {
		if e.Client.Port() != port && e.Server.Port() != port {
			continue
		}
		total++
		if e.Request != nil && want[e.Request.Method+" "+e.Request.Target] {
			matched++
		}
	}
	// The last statements of the connection (COPY, LISTEN, the role
	// statements) come after the dropped third.
	if matched < count[best.ID]/2 {
		t.Errorf("joined mid-stream: %d of %d exchanges match the full decode (which has %d)", matched, total, count[best.ID])
	}
	t.Logf("joined mid-stream: %d of %d exchanges match the full decode's %d", matched, total, count[best.ID])
}
