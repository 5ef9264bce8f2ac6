package ui

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
)

// statsStore is the loaded store plus calls that group: five user
// lookups by id with known latencies, and database exchanges.
func statsStore() *fakeStore {
	s := loadedStore()
	for i, lat := range []float64{4, 1, 3, 2, 50} {
		id := uint64(20 + i)
		e := exchange(id, 2000+float64(i)*100, "GET", "/v1/users/"+string(rune('1'+i))+"?full=1", 200, "", "", "application/json", `{"id":1}`)
		e.Response.Last = e.Request.First.Add(time.Duration(lat * float64(time.Millisecond)))
		s.add(e)
	}
	db := netip.MustParseAddrPort("10.1.0.20:5432")
	for i, sql := range []string{"SELECT * FROM pets WHERE id = 7", "SELECT * FROM pets WHERE id = 12"} {
		s.add(&decode.Exchange{
			ID: uint64(40 + i), Source: "capture.pcap", Proto: "postgres", Version: 1, Client: client, Server: db,
			Start: at(3000), End: at(3002), State: decode.Complete,
			Request:  &decode.Message{First: at(3000), Last: at(3000), Method: "SELECT", Target: sql},
			Response: &decode.Message{First: at(3001), Last: at(3002), Body: []byte("id\tname\n7\tRex\n"), BodySize: 15, DecodedSize: 15},
			Query:    &decode.QueryInfo{Rows: 1},
		})
	}
	s.add(&decode.Exchange{
		ID: 42, Source: "capture.pcap", Proto: "redis", Version: 1, Client: client, Server: netip.MustParseAddrPort("10.1.0.21:6379"),
		Start: at(3100), End: at(3101), State: decode.Complete,
		Request:  &decode.Message{First: at(3100), Last: at(3100), Method: "GET", Target: "session:9f2c"},
		Response: &decode.Message{First: at(3101), Last: at(3101)},
		Query:    &decode.QueryInfo{ReplyError: "WRONGTYPE Operation against a key holding the wrong kind of value", Rows: -1},
	})
	return s
}

// statsConfig compiles filters with decode/filter, as tapview does:
// Enter in the stats view sets a real expression.
func statsConfig() Config {
	cfg := baseConfig(statsStore())
	cfg.Compile = realCompile
	return cfg
}

func TestStatsGolden(t *testing.T) {
	goldenSizes(t, "stats", statsConfig, "3")
}

func TestStatsView(t *testing.T) {
	d := newDriver(t, statsConfig(), 200, 60)
	if !strings.Contains(d.screen(), "1 Exchanges 17   2 Flows 3   3 Stats") {
		t.Fatalf("header lacks the stats tab:\n%s", d.screen())
	}
	d.keys("3")
	v := d.m.statsOpen()
	if v == nil || !v.loaded {
		t.Fatal("3 did not open the stats view")
	}
	// Sorted by count: the five user lookups first, as one route.
	first := v.rows[0]
	if first.Name() != "api.example.com GET /v1/users/{id}" || first.Count != 5 {
		t.Fatalf("first group %q count %d", first.Name(), first.Count)
	}
	// Latencies 4, 1, 3, 2, 50 ms: nearest rank p50 3ms, p90 and p99 50ms.
	if l := first.Latency; l.P50 != 3*time.Millisecond || l.P90 != 50*time.Millisecond || l.Max != 50*time.Millisecond {
		t.Errorf("latency %+v", l)
	}
	scr := d.screen()
	for _, want := range []string{"10.1.0.20:5432 SELECT * FROM pets WHERE id = ?", "10.1.0.21:6379 GET session:9f2c", "↓COUNT", "BYTES OUT", "groups of 16 exchanges"} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
	// o moves the sort to the error rate; O reverses it.
	d.keys("o")
	if v.rows[0].ErrorRate != 1 || !strings.Contains(d.screen(), "↓ERR%") {
		t.Errorf("o did not sort by error rate: %+v", v.rows[0])
	}
	d.keys("O")
	if v.rows[0].ErrorRate != 0 || !strings.Contains(d.screen(), "↑ERR%") {
		t.Errorf("O did not reverse: %+v", v.rows[0])
	}
	for range statsSorts()[2:] {
		d.keys("o")
	}
	if statsSorts()[v.sort] != "group" || v.rows[0].Name() > v.rows[1].Name() {
		t.Errorf("o did not reach the group column: %q", statsSorts()[v.sort])
	}
	// Enter on the user lookups lists exactly them.
	for i, r := range v.rows {
		if r.Name() == "api.example.com GET /v1/users/{id}" {
			v.cursor = i
		}
	}
	d.keys("enter")
	if d.m.statsOpen() != nil || d.m.pane != paneExchanges {
		t.Fatal("enter did not go to the exchanges")
	}
	if got := d.m.shown(paneExchanges); got != 5 {
		t.Errorf("the group's list has %d rows, want 5:\n%s", got, d.screen())
	}
	const want = `route == "api.example.com GET /v1/users/{id}"`
	if ix := d.m.idx[paneExchanges]; ix.expr != want {
		t.Errorf("filter after enter %q, want %q", ix.expr, want)
	}
	if scr := d.screen(); !strings.Contains(scr, want) || strings.Contains(scr, "/healthz") {
		t.Errorf("list not filtered to the group:\n%s", scr)
	}
	// / offers the expression for editing, and it compiles as typed.
	d.keys("/")
	if d.m.prompt == nil || d.m.prompt.edit.String() != want {
		t.Fatalf("/ after enter: prompt %+v", d.m.prompt)
	}
	d.keys("enter")
	if got := d.m.shown(paneExchanges); got != 5 || d.m.idx[paneExchanges].failed != "" {
		t.Errorf("the group's expression applied again: %d rows, failed %q", got, d.m.idx[paneExchanges].failed)
	}
	d.keys("?")
	if scr := d.screen(); !strings.Contains(scr, "3          stats by route") && !strings.Contains(scr, "stats by route") {
		t.Errorf("help lacks the stats key:\n%s", scr)
	}
}

// TestStatsFilterAndLive checks that the view counts what the filter
// shows, and that exchanges arriving (first pending, then final) are
// counted once, when final.
func TestStatsFilterAndLive(t *testing.T) {
	s := statsStore()
	d := newDriver(t, baseConfig(s), 120, 40)
	d.keys("/")
	d.typeText("status >= 500")
	d.keys("enter", "3")
	v := d.m.statsOpen()
	if v == nil || v.total != 1 || len(v.rows) != 1 || !strings.Contains(v.rows[0].Name(), "/healthz") {
		t.Fatalf("filtered stats: %+v", v)
	}
	d.keys("1", "/", "ctrl+u", "enter", "3")
	v = d.m.statsOpen()
	base := v.total
	if base != 16 { // 17 exchanges, one still pending
		t.Fatalf("unfiltered stats count %d exchanges, want 16", base)
	}
	e := exchange(60, 5000, "GET", "/v1/users/77", 200, "", "", "application/json", "{}")
	e.State, e.Response = decode.Pending, nil
	s.add(e)
	d.send(storeChangedMsg{})
	if v.total != base || !slices.Contains(v.pending, 17) {
		t.Errorf("pending exchange: total %d, pending %v", v.total, v.pending)
	}
	done := exchange(60, 5000, "GET", "/v1/users/77", 500, "", "", "application/json", "{}")
	done.Version = 2
	s.add(done)
	d.send(storeChangedMsg{})
	d.send(storeChangedMsg{})
	if v.total != base+1 || slices.Contains(v.pending, 17) {
		t.Errorf("after completion: total %d (want %d), pending %v", v.total, base+1, v.pending)
	}
	for _, r := range v.rows {
		if r.Name() == "api.example.com GET /v1/users/{id}" && (r.Count != 6 || r.Errors != 1) {
			t.Errorf("live group %+v", r)
		}
	}
}

func TestFitGroup(t *testing.T) {
	for _, c := range []struct {
		in   string
		w    int
		want string
	}{
		{"api.example.com GET /v1/users/{id}", 28, "api.….com GET /v1/users/{id}"},
		{"api.example.com GET /v1/users/{id}", 40, "api.example.com GET /v1/users/{id}"},
		{"10.1.0.20:5432 SELECT * FROM pets WHERE id = ?", 28, "10.…5432 SELECT * …RE id = ?"},
	} {
		got := fitGroup(c.in, c.w)
		if got != c.want || width(got) > c.w {
			t.Errorf("fitGroup(%q, %d) = %q, want %q", c.in, c.w, got, c.want)
		}
	}
}

// TestGroupExpr checks the expressions Enter sets, and that groups no
// expression names exactly are refused rather than approximated.
func TestGroupExpr(t *testing.T) {
	for _, c := range []struct {
		base   string
		by     []string
		values []string
		masked bool
		want   string // "" when refused
	}{
		{"", []string{"route"}, []string{`h GET /a\x1b/{id}`}, false, `route == "h GET /a\\x1b/{id}"`},
		{"pets", []string{"route"}, []string{"h GET /pets"}, false, `(url.lowerAscii().contains("pets")) && (route == "h GET /pets")`},
		{"status >= 500", []string{"host", "status"}, []string{"api", "503"}, false, `(status >= 500) && (host == "api" && status == 503)`},
		{"", []string{"tls", "latency"}, []string{"false", "1.5ms"}, false, `!tls && latency == duration("1.5ms")`},
		{"", []string{"namespace"}, []string{"shop"}, false, `namespace == "shop"`},
		{"", []string{"path"}, []string{`/a\x1b`}, false, ""},
		{"", []string{"path"}, []string{strings.Repeat("a", 200) + "…"}, false, ""},
		{"", []string{"grpc_status"}, []string{""}, false, ""},
		{"", []string{"route"}, []string{"h GET /u/••••••••"}, true, ""},
		{"", []string{"route"}, []string{"h GET /u/••••••••"}, false, `route == "h GET /u/••••••••"`},
	} {
		got, err := groupExpr(c.base, c.by, c.values, c.masked)
		if c.want == "" {
			if err == nil {
				t.Errorf("%v = %v: got %q, want refused", c.by, c.values, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%v = %v: got %q, %v; want %q", c.by, c.values, got, err, c.want)
			continue
		}
		if _, err := realCompile(got); err != nil {
			t.Errorf("%q does not compile: %v", got, err)
		}
	}
}

// TestStatsGroupUnderFilter: Enter under a typed filter keeps it, and
// the result is a filter like any other for / to edit.
func TestStatsGroupUnderFilter(t *testing.T) {
	d := newDriver(t, statsConfig(), 120, 40)
	d.keys("/")
	d.typeText("status >= 500")
	d.keys("enter", "3")
	v := d.m.statsOpen()
	if v == nil || len(v.rows) != 1 {
		t.Fatalf("filtered stats: %+v", v)
	}
	d.keys("enter")
	want := `(status >= 500) && (route == "` + v.rows[0].Name() + `")`
	if got := d.m.idx[paneExchanges].expr; got != want {
		t.Fatalf("filter %q, want %q", got, want)
	}
	if got := d.m.shown(paneExchanges); got != 1 {
		t.Errorf("%d rows, want the one failing health check", got)
	}
}

func TestStatsGroupByGolden(t *testing.T) {
	goldenSizes(t, "stats_picker", statsConfig, "3", "r", "j", "j")
	goldenSizes(t, "stats_by_status", statsConfig, "3", "r", "j", "j", "j", "j", "enter")
}

// TestStatsGroupBy: r opens the picker, esc keeps the view and its
// grouping, enter regroups live, and enter on a group lists it by the
// chosen variable.
func TestStatsGroupBy(t *testing.T) {
	d := newDriver(t, statsConfig(), 120, 40)
	d.keys("3", "r")
	v := d.m.statsOpen()
	if v == nil || v.pick == nil {
		t.Fatal("r did not open the picker")
	}
	d.keys("esc")
	if d.m.statsOpen() != v || v.pick != nil || len(v.by) != 0 {
		t.Fatalf("esc in the picker: view %v, picker %v, by %v", d.m.statsOpen(), v.pick, v.by)
	}
	d.keys("r")
	for i, c := range groupChoices() {
		if slicesEqual(c.by, []string{"status"}) {
			v.pick.cursor = i
		}
	}
	d.keys("enter")
	if v.pick != nil || !slicesEqual(v.by, []string{"status"}) || !v.loaded {
		t.Fatalf("after choosing status: picker %v, by %v, loaded %v", v.pick, v.by, v.loaded)
	}
	counts := map[string]int64{}
	for _, r := range v.rows {
		counts[r.Name()] = r.Count
	}
	// statsStore: 16 final exchanges; the database and Redis ones and
	// the loaded store's reset exchange have no status (0).
	var sum int64
	for _, n := range counts {
		sum += n
	}
	if sum != v.total || counts["0"] != 4 || counts["200"] != 8 {
		t.Fatalf("groups by status %v of %d", counts, v.total)
	}
	if scr := d.screen(); !strings.Contains(scr, "STATUS") {
		t.Errorf("the group column is not titled STATUS:\n%s", scr)
	}
	for i, r := range v.rows {
		if r.Name() == "200" {
			v.cursor = i
		}
	}
	d.keys("enter")
	if got := d.m.idx[paneExchanges].expr; got != "status == 200" {
		t.Fatalf("filter %q, want status == 200", got)
	}
	if got := d.m.shown(paneExchanges); int64(got) != counts["200"] {
		t.Errorf("%d rows listed, the group counts %d", got, counts["200"])
	}
	// 3 opens the view again with the grouping chosen last.
	d.keys("3")
	if v := d.m.statsOpen(); !slicesEqual(v.by, []string{"status"}) {
		t.Errorf("reopened view grouped by %v", v.by)
	}
}

// TestStatsRouteStatusFits: grouped by route and status on a narrow
// screen, the route gives way and the status stays readable.
func TestStatsRouteStatusFits(t *testing.T) {
	d := newDriver(t, statsConfig(), 80, 24)
	d.keys("3", "r", "j", "enter")
	v := d.m.statsOpen()
	if !slicesEqual(v.by, []string{"route", "status"}) {
		t.Fatalf("second choice groups by %v", v.by)
	}
	scr := d.screen()
	checkFits(t, scr, 80, 24)
	for _, want := range []string{"s/{id} · 200 ", "/healthz · 503 ", "id = ? · 0 "} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
}

// TestStatsRegroupWhileCounting: a count still running when the grouping
// changes lands after the new one started and is dropped, and the view
// ends up grouped as chosen, not stuck "counting".
func TestStatsRegroupWhileCounting(t *testing.T) {
	d := newDriver(t, statsConfig(), 120, 40)
	_, held := d.m.Update(keyMsg("3")) // the first count, held back
	var old []tea.Msg
	var collect func(tea.Cmd)
	collect = func(c tea.Cmd) {
		if c == nil {
			return
		}
		switch msg := c().(type) {
		case tea.BatchMsg:
			for _, c := range msg {
				collect(c)
			}
		case statsResult:
			old = append(old, msg)
		}
	}
	collect(held)
	if len(old) != 1 {
		t.Fatalf("opening the view ran %d counts, want 1", len(old))
	}
	var cmd tea.Cmd
	for _, k := range []string{"r", "j", "j", "j", "j", "enter"} {
		_, cmd = d.m.Update(keyMsg(k))
	}
	v := d.m.statsOpen()
	if !slicesEqual(v.by, []string{"status"}) || !v.running {
		t.Fatalf("after choosing status: by %v, running %v", v.by, v.running)
	}
	d.deliver(old[0]) // the route count lands late
	if v.loaded || !v.running {
		t.Fatalf("the late route count was taken: loaded %v, running %v, rows %d", v.loaded, v.running, len(v.rows))
	}
	d.run(cmd)
	d.settle()
	if !v.loaded || v.running || len(v.rows) != 6 || v.rows[0].Name() != "200" {
		t.Errorf("status count: loaded %v running %v rows %+v", v.loaded, v.running, v.rows)
	}
}
