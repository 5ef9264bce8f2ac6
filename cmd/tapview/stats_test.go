package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapview/tapview/decode/link/corpustest"
)

// runCmd runs tapview in-process and returns stdout.
func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// statsReport mirrors the documented `tapview stats -o json` schema; the
// decoder below rejects unknown fields, so a renamed field fails here.
type statsReport struct {
	By        []string     `json:"by"`
	Filter    string       `json:"filter"`
	Exchanges int64        `json:"exchanges"`
	Groups    []statsGroup `json:"groups"`
}

type statsGroup struct {
	Key            map[string]string `json:"key"`
	Count          int64             `json:"count"`
	Errors         int64             `json:"errors"`
	ErrorRate      float64           `json:"error_rate"`
	LatencySamples int64             `json:"latency_samples"`
	P50            *float64          `json:"p50_ms"`
	P90            *float64          `json:"p90_ms"`
	P99            *float64          `json:"p99_ms"`
	Max            *float64          `json:"max_ms"`
	Exact          bool              `json:"exact"`
	BytesIn        int64             `json:"bytes_in"`
	BytesOut       int64             `json:"bytes_out"`
}

func statsJSON(t *testing.T, args ...string) statsReport {
	t.Helper()
	out, err := runCmd(t, append([]string{"stats", "-o", "json", "--no-mask"}, args...)...)
	if err != nil {
		t.Fatalf("tapview stats %v: %v", args, err)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var r statsReport
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("stats JSON does not follow the schema: %v\n%s", err, out)
	}
	return r
}

// openLine is what the direct computation reads from `open -o json`.
type openLine struct {
	Type       string          `json:"type"`
	Proto      string          `json:"proto"`
	Host       string          `json:"host"`
	Method     *string         `json:"method"`
	Status     int             `json:"status"`
	State      string          `json:"state"`
	Duration   float64         `json:"duration_ms"`
	ReqHeaders json.RawMessage `json:"req_headers"`
	RespHdrs   json.RawMessage `json:"resp_headers"`
	ReqBytes   int64           `json:"req_body_bytes"`
	RespBytes  int64           `json:"resp_body_bytes"`
	GRPCStatus *int            `json:"grpc_status"`
	DNSRcode   string          `json:"dns_rcode"`
	ReplyError string          `json:"reply_error"`
}

// openLines runs `tapview open -o json FILE...`, or `tapview -o json`
// (the demo) without files.
func openLines(t *testing.T, args ...string) []openLine {
	t.Helper()
	cmd := []string{"open", "-o", "json", "--no-mask"}
	if len(args) == 0 {
		cmd = cmd[1:]
	}
	out, err := runCmd(t, append(cmd, args...)...)
	if err != nil {
		t.Fatalf("tapview open %v: %v", args, err)
	}
	var ls []openLine
	for _, l := range strings.Split(out, "\n") {
		if l == "" {
			continue
		}
		var o openLine
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("open JSON %q: %v", l, err)
		}
		if o.Type == "exchange" {
			ls = append(ls, o)
		}
	}
	return ls
}

// failed is the documented error rule, written again from the JSON.
func (o openLine) failed() bool {
	switch {
	case o.State == "reset" || o.State == "partial":
		return true
	case o.GRPCStatus != nil && *o.GRPCStatus != 0:
		return true
	case o.DNSRcode != "":
		return o.DNSRcode != "NOERROR"
	case o.ReplyError != "":
		return true
	}
	return o.Status >= 500
}

// nearestRank is the p-th percentile of sorted values: the
// ceil(p/100*n)-th value.
func nearestRank(sorted []float64, p int) float64 {
	r := (p*len(sorted) + 99) / 100
	return sorted[max(r, 1)-1]
}

// checkAgainstOpen groups `open -o json` lines by proto, host, method and
// status (JSON fields with the names of the filter variables) and
// compares every figure of `stats --by proto,host,method,status`.
func checkAgainstOpen(t *testing.T, file ...string) {
	t.Helper()
	lines := openLines(t, file...)
	type want struct {
		count, errors, in, out int64
		lat                    []float64
	}
	groups := map[string]*want{}
	var total, totalErr int64
	for _, o := range lines {
		method := ""
		if o.Method != nil {
			method = *o.Method
		}
		k := strings.Join([]string{o.Proto, o.Host, method, strconv.Itoa(o.Status)}, "|")
		g := groups[k]
		if g == nil {
			g = &want{}
			groups[k] = g
		}
		g.count++
		total++
		if o.failed() {
			g.errors++
			totalErr++
		}
		g.in += o.ReqBytes
		g.out += o.RespBytes
		if o.ReqHeaders != nil && o.RespHdrs != nil && o.Duration > 0 {
			g.lat = append(g.lat, o.Duration)
		}
	}
	r := statsJSON(t, append([]string{"--by", "proto,host,method,status"}, file...)...)
	if r.Exchanges != total {
		t.Errorf("stats counted %d exchanges, open printed %d", r.Exchanges, total)
	}
	if len(r.Groups) != len(groups) {
		t.Errorf("stats has %d groups, the JSON %d", len(r.Groups), len(groups))
	}
	for _, g := range r.Groups {
		k := strings.Join([]string{g.Key["proto"], g.Key["host"], g.Key["method"], g.Key["status"]}, "|")
		w := groups[k]
		if w == nil {
			t.Errorf("group %q not in the JSON", k)
			continue
		}
		if g.Count != w.count || g.Errors != w.errors || g.BytesIn != w.in || g.BytesOut != w.out {
			t.Errorf("group %q: count %d errors %d bytes %d/%d; JSON says %d %d %d/%d", k, g.Count, g.Errors, g.BytesIn, g.BytesOut, w.count, w.errors, w.in, w.out)
		}
		if g.LatencySamples != int64(len(w.lat)) || !g.Exact {
			t.Errorf("group %q: %d latency samples (exact %v), JSON has %d", k, g.LatencySamples, g.Exact, len(w.lat))
			continue
		}
		if len(w.lat) == 0 {
			if g.P50 != nil {
				t.Errorf("group %q: percentiles without samples", k)
			}
			continue
		}
		slices.Sort(w.lat)
		for _, c := range []struct {
			name string
			got  *float64
			want float64
		}{{"p50", g.P50, nearestRank(w.lat, 50)}, {"p90", g.P90, nearestRank(w.lat, 90)}, {"p99", g.P99, nearestRank(w.lat, 99)}, {"max", g.Max, w.lat[len(w.lat)-1]}} {
			if c.got == nil || math.Abs(*c.got-c.want) > 1e-9 {
				t.Errorf("group %q %s = %v, direct computation %v", k, c.name, c.got, c.want)
			}
		}
	}
	// The default grouping partitions the same exchanges.
	rr := statsJSON(t, file...)
	var n, e int64
	for _, g := range rr.Groups {
		n += g.Count
		e += g.Errors
		if _, ok := g.Key["route"]; !ok || len(g.Key) != 1 {
			t.Errorf("route group key %v", g.Key)
		}
	}
	if n != total || e != totalErr || rr.Exchanges != total {
		t.Errorf("route groups hold %d exchanges (%d errors), the JSON %d (%d)", n, e, total, totalErr)
	}
}

func TestStatsDemoAgainstJSON(t *testing.T) {
	checkAgainstOpen(t) // no FILE: the embedded demo
}

func TestStatsCorpusAgainstJSON(t *testing.T) {
	dir := corpustest.Dir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if len(files) == 0 {
		t.Skip("no captures in " + dir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { checkAgainstOpen(t, f) })
	}
}

func TestStatsJSONSchema(t *testing.T) {
	r := statsJSON(t, "--by", "route,status", "-f", `proto != "dns"`, "--sort", "p99", "--top", "3")
	if !slices.Equal(r.By, []string{"route", "status"}) || r.Filter != `proto != "dns"` || len(r.Groups) != 3 {
		t.Fatalf("report head: by %v filter %q, %d groups", r.By, r.Filter, len(r.Groups))
	}
	if r.Exchanges <= 3 {
		t.Errorf("exchanges %d: --top must not change the total", r.Exchanges)
	}
	for i, g := range r.Groups {
		if len(g.Key) != 2 || g.Key["route"] == "" || g.Count <= 0 || g.ErrorRate != float64(g.Errors)/float64(g.Count) {
			t.Errorf("group %d: %+v", i, g)
		}
		if strings.Contains(g.Key["route"], "127.0.0.1 A") {
			t.Errorf("filter let DNS through: %v", g.Key)
		}
		if g.P99 == nil || i > 0 && *g.P99 > *r.Groups[i-1].P99 {
			t.Errorf("--sort p99 not largest first at %d", i)
		}
	}
}

func TestStatsTable(t *testing.T) {
	out, err := runCmd(t, "stats", "--sort", "group")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	head := strings.Fields(lines[0])
	if !slices.Equal(head, []string{"ROUTE", "COUNT", "ERR%", "P50", "P90", "P99", "MAX", "BYTES", "IN", "BYTES", "OUT"}) {
		t.Errorf("header %q", lines[0])
	}
	if !strings.Contains(out, "GET /api/pets/{id}") {
		t.Errorf("no templated route:\n%s", out)
	}
	if !slices.IsSorted(lines[1:]) {
		t.Errorf("--sort group is not alphabetical:\n%s", out)
	}
}

func TestStatsUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"stats", "--by", "req_headers"},
		{"stats", "--by", "nosuch"},
		{"stats", "--sort", "nope"},
		{"stats", "--sort", "p99:up"},
		{"stats", "-o", "yaml"},
		{"stats", "--top", "-1"},
		{"stats", "-f", "status >"},
	} {
		_, err := runCmd(t, args...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	if _, err := runCmd(t, "stats", "/nonexistent.pcap"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

// TestStatsQueryProtocols runs the JSON comparison on the database and
// queue recordings (real servers, see scripts/record-*.sh), and checks
// their route templates where the decoder produced exchanges.
func TestStatsQueryProtocols(t *testing.T) {
	for _, c := range []struct {
		file, proto, route string
	}{
		{"../../testdata/redis/redis.pcap", "redis", "GET pipe:{id}"},
		{"../../testdata/postgres/postgres.pcap", "postgres", "SELECT count(*) AS n FROM items WHERE qty > ?"},
		{"../../testdata/mysql/mysql.pcap", "mysql", "UPDATE pets SET qty = ? WHERE id >= ?"},
		{"../../testdata/kafka/kcat.pcap", "kafka", "Produce payments"},
	} {
		t.Run(c.proto, func(t *testing.T) {
			if _, err := os.Stat(c.file); err != nil {
				t.Skipf("recording not in this tree: %v", err)
			}
			checkAgainstOpen(t, c.file)
			decoded := false
			for _, o := range openLines(t, c.file) {
				decoded = decoded || o.Proto == c.proto
			}
			if !decoded {
				t.Skipf("no %s exchanges decoded from %s (decoder not wired in this tree)", c.proto, c.file)
			}
			found := false
			for _, g := range statsJSON(t, c.file).Groups {
				// The host is the server's address, whose port a
				// re-recording may change: compare what follows it.
				_, route, _ := strings.Cut(g.Key["route"], " ")
				found = found || route == c.route
			}
			if !found {
				t.Errorf("no group %q", c.route)
			}
		})
	}
}

// testStatsSignal runs the real binary (TestLiveOutput builds it) on a
// capture arriving on stdin that does not end: SIGINT must still print
// what was counted (the forced exit saves the summary).
func testStatsSignal(t *testing.T, bin string) {
	data, err := os.ReadFile(filepath.Join(corpustest.Dir(t), "http11_keepalive_5req_1conn.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	p := startProc(t, bin, "stats", "-")
	if _, err := p.stdin.Write(data); err != nil { // stdin stays open
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // decoding five requests takes milliseconds
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	out, _ := p.rest(t, 10*time.Second)
	if len(out) < 2 || !strings.HasPrefix(out[0], "ROUTE") || !strings.Contains(strings.Join(out, "\n"), "www.mozilla.org GET /") {
		t.Fatalf("after SIGINT tapview stats printed %q", out)
	}
}
