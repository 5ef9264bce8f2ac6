package mysql

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/decodetest"
)

// connections groups the decoded exchanges by client port, connections
// in the order they started.
func connections(col *decodetest.Collector) [][]*decode.Exchange {
	byPort := map[uint16][]*decode.Exchange{}
	var ports []uint16
	for _, e := range col.Exchanges() {
		p := e.Client.Port()
		if _, ok := byPort[p]; !ok {
			ports = append(ports, p)
		}
		byPort[p] = append(byPort[p], e)
	}
	out := make([][]*decode.Exchange, 0, len(ports))
	for _, p := range ports {
		out = append(out, byPort[p])
	}
	return out
}

// threads groups the general log by thread, keeping the TCP connections
// (those with a Connect entry) in order.
func threads(log []logEntry) [][]logEntry {
	by := map[string][]logEntry{}
	var order []string
	for _, l := range log {
		if _, ok := by[l.thread]; !ok {
			order = append(order, l.thread)
		}
		by[l.thread] = append(by[l.thread], l)
	}
	var out [][]logEntry
	for _, id := range order {
		if by[id][0].command == "Connect" {
			out = append(out, by[id])
		}
	}
	return out
}

// substitute puts the parameters an EXECUTE exchange's body lists into
// its SQL's placeholders, the way the general log shows executions.
func substitute(e *decode.Exchange) string {
	sql := e.Path()
	var vals []string
	for _, l := range strings.Split(string(e.Request.Body), "\n") {
		if _, v, ok := strings.Cut(l, " = "); ok && strings.HasPrefix(l, "-- ?") {
			vals = append(vals, v)
		}
	}
	var b strings.Builder
	for _, c := range sql {
		if c == '?' && len(vals) > 0 {
			b.WriteString(vals[0])
			vals = vals[1:]
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// TestRecordingMatchesGeneralLog compares every exchange of every
// connection with the server's general log: same commands in the same
// order, SQL text, schema names, statement SQL of executions with their
// parameters, and the refused login.
func TestRecordingMatchesGeneralLog(t *testing.T) {
	col := decodePackets(t, readRecording(t))
	conns := connections(col)
	truth := threads(readGeneralLog(t))
	if len(conns) != len(truth) || len(truth) != 8 {
		t.Fatalf("%d connections decoded, general log has %d (want 8)", len(conns), len(truth))
	}
	compared := 0
	for ci, lines := range truth {
		var got []*decode.Exchange
		for _, e := range conns[ci] {
			// The general log does not record COM_PING.
			if e.Method() != "PING" {
				got = append(got, e)
			}
		}
		if strings.HasSuffix(lines[0].arg, "using SSL/TLS") {
			// Only the SSL request is plaintext.
			if len(got) != 1 || got[0].Request.HeaderValue("Ssl") != "requested" {
				t.Errorf("TLS connection %d: %d exchanges, want the SSL request alone", ci, len(got))
			}
			continue
		}
		// SQL PREPARE and EXECUTE are one COM_QUERY each, which the log
		// follows with its own Prepare and Execute entries.
		var want []logEntry
		for i, l := range lines {
			if i > 0 && lines[i-1].command == "Query" && (l.command == "Prepare" || l.command == "Execute") {
				continue
			}
			if i > 0 && l.command == "Connect" {
				continue // the refusal, checked with the login
			}
			want = append(want, l)
		}
		if len(got) != len(want) {
			t.Errorf("connection %d: %d exchanges decoded, general log has %d", ci, len(got), len(want))
			continue
		}
		for i, l := range want {
			e := got[i]
			if e.State != decode.Complete {
				t.Errorf("connection %d #%d %s: state %s (%s)", ci, i, e.Method(), e.State, e.Error)
			}
			switch l.command {
			case "Connect":
				user, _, _ := strings.Cut(l.arg, "@")
				if e.Method() != "CONNECT" || e.Query.User != user {
					t.Errorf("connection %d: login %s user %q, log %q", ci, e.Method(), e.Query.User, l.arg)
				}
				if _, db, ok := strings.Cut(l.arg, " on "); ok {
					db, _, _ = strings.Cut(db, " using")
					if strings.TrimSpace(db) != e.Query.Database {
						t.Errorf("connection %d: login database %q, log %q", ci, e.Query.Database, l.arg)
					}
				}
				if e.Request.HeaderValue("Password") == "" || strings.Contains(string(e.Request.Body), e.Request.HeaderValue("Password")) {
					t.Errorf("connection %d: auth response not (only) in the Password header", ci)
				}
				refused := len(lines) > 1 && lines[1].command == "Connect" && strings.HasPrefix(lines[1].arg, "Access denied")
				if refused != (e.Query.ErrorCode == "1045") {
					t.Errorf("connection %d: login error %q %q, log refused=%v", ci, e.Query.ErrorCode, e.Query.ReplyError, refused)
				}
				if refused && e.Query.ReplyError != "#28000 "+lines[1].arg {
					t.Errorf("connection %d: reply error %q, log %q", ci, e.Query.ReplyError, lines[1].arg)
				}
			case "Query":
				if e.Path() != unplant(l.arg) && unplant(e.Path()) != l.arg {
					t.Errorf("connection %d #%d: target %q, log %q", ci, i, e.Path(), l.arg)
				}
				if v := verb(l.arg); e.Method() != v || e.Request.HeaderValue("Command") != "COM_QUERY" {
					t.Errorf("connection %d #%d: method %s (%s), want %s", ci, i, e.Method(), e.Request.HeaderValue("Command"), v)
				}
			case "Init DB":
				if e.Method() != "USE" || e.Path() != l.arg {
					t.Errorf("connection %d #%d: %s %q, log Init DB %q", ci, i, e.Method(), e.Path(), l.arg)
				}
			case "Prepare":
				if e.Method() != "PREPARE" || e.Path() != l.arg || e.Response.HeaderValue("Statement-Id") == "" {
					t.Errorf("connection %d #%d: %s %q, log Prepare %q", ci, i, e.Method(), e.Path(), l.arg)
				}
			case "Execute":
				if e.Method() != "EXECUTE" || substitute(e) != l.arg {
					t.Errorf("connection %d #%d: %s %q, log Execute %q", ci, i, e.Method(), substitute(e), l.arg)
				}
			case "Close stmt":
				if e.Method() != "STMT_CLOSE" {
					t.Errorf("connection %d #%d: %s, log Close stmt", ci, i, e.Method())
				}
			case "Change user":
				// libmariadb's mysql_change_user on a compressed
				// connection; each is switched to the new user's plugin.
				user, rest, _ := strings.Cut(l.arg, "@")
				db, _, _ := strings.Cut(strings.TrimPrefix(rest[strings.Index(rest, " on ")+4:], " "), " using")
				if e.Method() != "CHANGE_USER" || e.Request.HeaderValue("User") != user || e.Path() != db ||
					e.Response.HeaderValue("Auth-Switch") == "" || e.Request.HeaderValue("Auth-Password") == "" ||
					e.Request.HeaderValue("Password") == "" || strings.Contains(string(e.Request.Body), e.Request.HeaderValue("Password")) {
					t.Errorf("connection %d #%d: %s user %q db %q switch %q, log Change user %q", ci, i, e.Method(),
						e.Request.HeaderValue("User"), e.Path(), e.Response.HeaderValue("Auth-Switch"), l.arg)
				}
			case "Quit":
				if e.Method() != "QUIT" {
					t.Errorf("connection %d #%d: %s, log Quit", ci, i, e.Method())
				}
			default:
				t.Errorf("general log command %q not compared", l.command)
			}
			compared++
		}
	}
	if compared < 40 {
		t.Errorf("compared %d exchanges, want at least 40", compared)
	}
}

// unplant puts back the placeholders record-mysql.sh wrote into the
// general log in place of the planted passwords.
func unplant(s string) string {
	for _, l := range readSecretsOnce() {
		s = strings.ReplaceAll(s, l[1], l[0])
	}
	return s
}

func readSecretsOnce() [][2]string {
	b, err := os.ReadFile(filepath.Join(recDir, "secrets.txt"))
	if err != nil {
		return nil
	}
	var out [][2]string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(l, "\t")
		if ph, ok := map[string]string{"app": "APP_PW", "bad": "BAD_PW", "ed": "ED_PW", "sql": "SQL_PW", "sql2": "SQL_PW2", "sqlzip": "ZIP_PW"}[k]; ok {
			out = append(out, [2]string{"<" + ph + ">", v})
		}
	}
	return out
}

// find returns the first exchange with this method whose target
// contains sub.
func find(t *testing.T, col *decodetest.Collector, method, sub string) *decode.Exchange {
	t.Helper()
	for _, e := range col.Exchanges() {
		if e.Method() == method && strings.Contains(e.Path(), sub) {
			return e
		}
	}
	t.Fatalf("no %s exchange with %q", method, sub)
	return nil
}

// TestRecordingReplies checks replies against what the clients printed
// and the server answered: rows, affected counts, errors, multi-results,
// LOCAL INFILE, the auth switch and the compressed connection.
func TestRecordingReplies(t *testing.T) {
	col := decodePackets(t, readRecording(t))
	sel := find(t, col, "SELECT", "SELECT id, name, qty, born FROM pets")
	if want := "id\tname\tqty\tborn\n1\tcat\t3\t2020-01-02\n2\tdog\tNULL\t2019-05-06\n3\temu\t7\tNULL\n4\tyak\t0\t2021-12-31\n"; string(sel.Response.Body) != want || sel.Query.Rows != 4 {
		t.Errorf("SELECT: rows %d body %q", sel.Query.Rows, sel.Response.Body)
	}
	miss := find(t, col, "SELECT", "missing_table")
	if miss.Query.ErrorCode != "1146" || miss.Query.ReplyError != "#42S02 Table 'shop.missing_table' doesn't exist" {
		t.Errorf("missing table: %q %q", miss.Query.ErrorCode, miss.Query.ReplyError)
	}
	if up := find(t, col, "UPDATE", "qty = 9"); up.Query.Rows != 2 || up.Response.HeaderValue("Affected-Rows") != "2" {
		t.Errorf("UPDATE: rows %d", up.Query.Rows)
	}
	if ins := find(t, col, "INSERT", "(1,'cat'"); ins.Query.Rows != 4 {
		t.Errorf("INSERT: rows %d", ins.Query.Rows)
	}
	multi := find(t, col, "SELECT", "COUNT(*)")
	if string(multi.Response.Body) != "n\n4\n\ntop\n4\n" || multi.Query.Rows != 2 {
		t.Errorf("multi-result: rows %d body %q", multi.Query.Rows, multi.Response.Body)
	}
	load := find(t, col, "LOAD", "LOCAL INFILE")
	if load.Response.HeaderValue("Local-Infile") == "" || load.Query.Rows != 2 || load.Query.ErrorCode != "" || load.Request.HeaderValue("Infile-Bytes") != "21" {
		t.Errorf("LOAD DATA LOCAL: %v rows %d err %q", load.Response.Headers, load.Query.Rows, load.Query.ErrorCode)
	}
	// USE through COM_INIT_DB changes the schema of later exchanges.
	var dbs []string
	for _, e := range col.Exchanges() {
		if e.Method() == "SELECT" && e.Path() == "SELECT DATABASE()" {
			dbs = append(dbs, e.Query.Database+"="+strings.TrimSpace(strings.Split(string(e.Response.Body), "\n")[1]))
		}
	}
	if !slices.Equal(dbs, []string{"shop=shop", "other=other"}) {
		t.Errorf("schema before SELECT DATABASE(): %v", dbs)
	}
	// The binary protocol: rows as the Go client scanned them.
	client := clientLines(t, "binary")
	ex := find(t, col, "EXECUTE", "WHERE id >= ?")
	var rows []string
	for _, l := range client {
		if strings.HasPrefix(l, "row\t") {
			rows = append(rows, strings.TrimPrefix(l, "row\t"))
		}
	}
	if got := strings.Split(strings.TrimSpace(string(ex.Response.Body)), "\n"); len(got) != len(rows)+1 || !slices.Equal(got[1:], rows) || ex.Query.Rows != int64(len(rows)) {
		t.Errorf("binary rows %q, client read %q", got, rows)
	}
	if up := find(t, col, "EXECUTE", "UPDATE pets"); !slices.Contains(client, "update affected "+strconv.FormatInt(up.Query.Rows, 10)) {
		t.Errorf("binary UPDATE affected %d, client %q", up.Query.Rows, client)
	}
	if dup := find(t, col, "EXECUTE", "INSERT INTO pets"); dup.Query.ErrorCode != "1062" || !strings.Contains(string(dup.Request.Body), "?2 = 'dup'") {
		t.Errorf("duplicate insert: %q body %q", dup.Query.ErrorCode, dup.Request.Body)
	}
	var ed, comp *decode.Exchange
	for _, e := range col.Exchanges() {
		if e.Method() == "CONNECT" && e.Query.User == "ed" {
			ed = e
		}
		if comp == nil && e.Method() == "CONNECT" && e.Response.HeaderValue("Compression") == "zlib" {
			comp = e // the mariadb --compress connection, before the change-user one
		}
	}
	if ed == nil || ed.Response.HeaderValue("Auth-Switch") != "client_ed25519" || len(ed.Request.HeaderValue("Auth-Password")) != 128 {
		t.Errorf("ed25519 login: %+v", ed)
	}
	if comp == nil {
		t.Fatal("no compressed connection")
	}
	var crows []string
	for _, e := range col.Exchanges() {
		if e.Client == comp.Client && e.Method() == "SELECT" {
			crows = append(crows, string(e.Response.Body))
		}
	}
	if len(crows) != 3 || crows[0] != "id\tname\n4\tyak\n3\temu\n2\tdog\n1\tcat\n" || crows[1] != "pad\n"+strings.Repeat("z", 300)+"\n" ||
		crows[2] != "pad\tk\n"+strings.Repeat("q", 100)+"\tAKIAPLANTEDZIP7KEY66\n" {
		t.Errorf("compressed connection replies %q", crows)
	}
	for _, f := range col.Flows() {
		if f.Error != "" {
			t.Errorf("flow %d (%s): %s", f.ID, f.Proto, f.Error)
		}
	}
}

// clientLines returns the lines of one section of client.txt.
func clientLines(t *testing.T, section string) []string {
	f, err := os.Open(filepath.Join(recDir, "client.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "== ") {
			in = l == "== "+section
			continue
		}
		if in {
			out = append(out, l)
		}
	}
	return out
}

// TestRecordingCountsMatchTshark compares per-command counts with
// Wireshark's MySQL dissector on the same capture (the plaintext
// connections; the TLS one carries no commands either side can read).
func TestRecordingCountsMatchTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (scripts/test-deps.sh installs it)")
	}
	col := decodePackets(t, readRecording(t))
	ours := map[string]int{}
	for _, e := range col.Exchanges() {
		if c := e.Request.HeaderValue("Command"); c != "" {
			ours[c]++
		}
	}
	// One tshark run: each packet's command field ("" for replies).
	out, err := exec.Command("tshark", "-r", filepath.Join(recDir, "mysql.pcap"), "-d", "tcp.port==3307,mysql",
		"-Y", "mysql.command", "-T", "fields", "-e", "mysql.command").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	theirs := map[string]int{}
	for _, l := range strings.Fields(string(out)) {
		theirs[l]++
	}
	for code, name := range map[string]string{"3": "COM_QUERY", "2": "COM_INIT_DB", "1": "COM_QUIT", "14": "COM_PING", "22": "COM_STMT_PREPARE", "23": "COM_STMT_EXECUTE", "25": "COM_STMT_CLOSE"} {
		if theirs[code] != ours[name] || ours[name] == 0 {
			t.Errorf("%s: tshark %d, decoded %d", name, theirs[code], ours[name])
		}
	}
}
