package ui

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

// sizes are the terminal sizes every new view is checked at.
var sizes = [][2]int{{80, 24}, {120, 40}, {200, 60}}

func goldenSizes(t *testing.T, name string, cfg func() Config, keys ...string) {
	t.Helper()
	for _, sz := range sizes {
		d := newDriver(t, cfg(), sz[0], sz[1])
		d.keys(keys...)
		scr := d.screen()
		checkFits(t, scr, sz[0], sz[1])
		golden(t, fmt.Sprintf("%s_%dx%d", name, sz[0], sz[1]), scr)
	}
}

// checkFits fails when a frame has more lines than the terminal or a
// line wider than it.
func checkFits(t *testing.T, scr string, w, h int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(scr, "\n"), "\n")
	if len(lines) != h {
		t.Errorf("%dx%d: frame has %d lines", w, h, len(lines))
	}
	for i, l := range lines {
		if width(l) > w {
			t.Errorf("%dx%d: line %d is %d wide: %q", w, h, i, width(l), l)
		}
	}
}

// noteStore is the loaded store with source notes: damage at a byte
// offset, and a failed source.
func noteStore() *fakeStore {
	s := loadedStore()
	s.notes = []sources.Status{
		{Time: at(50), Source: "capture.pcap", Level: sources.Warning, Kind: "truncated",
			Message: "file cut short in the middle of a packet at byte 48213 (after 120 good packets)"},
		{Time: at(60), Source: "envoy", Level: sources.Error, Kind: "connect",
			Message: "cannot reach the Envoy admin at 127.0.0.1:9: connection refused; check the address and that Envoy runs"},
	}
	return s
}

func TestNotesGolden(t *testing.T) {
	goldenSizes(t, "notes", func() Config { return baseConfig(noteStore()) }, "E")
	d := newDriver(t, baseConfig(noteStore()), 80, 24)
	if scr := d.screen(); !strings.Contains(scr, "E 2 notes") {
		t.Errorf("status bar does not count the notes:\n%s", scr)
	}
	d.keys("E")
	scr := d.screen()
	for _, want := range []string{"byte 48213", "connection refused", "truncated", "connect"} {
		if !strings.Contains(scr, want) {
			t.Errorf("notes view lacks %q:\n%s", want, scr)
		}
	}
	d.keys("q")
	if d.m.over != nil || !strings.Contains(d.screen(), "HOST+PATH") {
		t.Error("q in the notes view did not go back to the list")
	}
}

func TestHelpScrolls(t *testing.T) {
	goldenSizes(t, "help_scrolled", func() Config { return baseConfig(loadedStore()) }, "?", "G")
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("?")
	top := d.screen()
	if strings.Contains(top, "grpc_method") {
		t.Fatalf("help fits at 80x24 unscrolled; the test needs a longer help:\n%s", top)
	}
	d.keys("G")
	bottom := d.screen()
	if !strings.Contains(bottom, "grpc_method") || !strings.Contains(bottom, "of ") {
		t.Errorf("G in help does not reach the filter variables:\n%s", bottom)
	}
	d.keys("g")
	if d.screen() != top {
		t.Error("g does not go back to the top of help")
	}
	d.keys("esc")
	if d.m.over != nil {
		t.Error("esc does not close help")
	}
}

func TestQuitKeys(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("enter")
	if !d.m.detail.open {
		t.Fatal("enter did not open the detail")
	}
	if cmd := d.m.onKey(keyMsg("q")); cmd != nil {
		t.Error("q in the detail returned a command (quit?) instead of going back")
	}
	if d.m.detail.open {
		t.Error("q did not close the detail")
	}
	for _, k := range []string{"q", "Q"} {
		cmd := d.m.onKey(keyMsg(k))
		if cmd == nil || fmt.Sprintf("%T", cmd()) != "tea.QuitMsg" {
			t.Errorf("%s on the list does not quit", k)
		}
	}
	d.keys("enter")
	if cmd := d.m.onKey(keyMsg("Q")); cmd == nil || fmt.Sprintf("%T", cmd()) != "tea.QuitMsg" {
		t.Error("Q in the detail does not quit")
	}
}

func TestSortGolden(t *testing.T) {
	cfg := func() Config { return baseConfig(loadedStore()) }
	// o once: latency, slowest first; twice: size, largest first.
	goldenSizes(t, "sorted_lat", cfg, "o")
	d := newDriver(t, cfg(), 120, 40)
	d.keys("o", "o")
	rows := d.m.exRows
	for i := 1; i < len(rows); i++ {
		if sizeOf(rows[i-1].cells[exSize]) < sizeOf(rows[i].cells[exSize]) {
			t.Errorf("size sort not descending at row %d: %q before %q", i, rows[i-1].cells[exSize], rows[i].cells[exSize])
		}
	}
	if !strings.Contains(d.screen(), "sort SIZE ↓") {
		t.Errorf("status bar does not name the sort:\n%s", d.screen())
	}
	d.keys("O")
	if first := d.m.exRows[0].cells[exSize]; first != "" && first != "0B" {
		t.Errorf("reversed size sort starts with %q", first)
	}
	// A sort follows new arrivals.
	s := loadedStore()
	d = newDriver(t, baseConfig(s), 120, 40)
	d.keys("o")
	big := exchange(30, 5000, "GET", "/slowest", 200, "", "", "text/plain", "x")
	big.Response.Last = at(5000 + 9000)
	s.add(big)
	d.send(storeChangedMsg{})
	// Right after a pass the next one is held back (a live list grows on
	// every refresh) and a retry is scheduled instead.
	if st := d.m.sorts[paneExchanges]; st.running || !st.tick || d.m.shown(paneExchanges) != 9 {
		t.Errorf("a sort right after a sort was not held back: %+v", st)
	}
	// When the retry comes after the interval, the new row is sorted in.
	d.m.sorts[paneExchanges].started = time.Time{}
	d.send(sortTickMsg{pane: paneExchanges})
	if d.m.shown(paneExchanges) != 10 || d.m.exRows[0].id != 30 {
		t.Errorf("the new slowest exchange is not first: shown=%d first=%d", d.m.shown(paneExchanges), d.m.exRows[0].id)
	}
}

func sizeOf(s string) float64 {
	var f float64
	var unit string
	fmt.Sscanf(s, "%f%s", &f, &unit)
	switch unit {
	case "k":
		f *= 1024
	case "M":
		f *= 1 << 20
	}
	return f
}

// exportSpy records what an export was given.
type exportSpy struct {
	ids  []uint64
	flow []uint64
}

func (s *exportSpy) fn(_ context.Context, _ string, exs iter.Seq[*decode.Exchange], fls []*decode.Flow, _ bool) error {
	for e := range exs {
		s.ids = append(s.ids, e.ID)
	}
	for _, f := range fls {
		s.flow = append(s.flow, f.ID)
	}
	return nil
}

func TestMarksGoldenAndExport(t *testing.T) {
	spy := &exportSpy{}
	cfg := func() Config {
		c := baseConfig(loadedStore())
		c.Export = spy.fn
		return c
	}
	goldenSizes(t, "marks", cfg, "M", "j", "M")
	d := newDriver(t, cfg(), 80, 24)
	d.keys("M", "j", "M", "M") // marks rows 1 and 3 (M moves down)
	if got := d.m.markCount(); got != 3 {
		t.Fatalf("%d marks, want 3", got)
	}
	d.keys("k", "M") // unmark row 3
	spy.ids = nil
	d.keys("x")
	if !strings.Contains(d.screen(), "export 2 marked to›") {
		t.Errorf("the export prompt does not say it writes the marked rows:\n%s", d.screen())
	}
	d.keys("enter")
	if fmt.Sprint(spy.ids) != "[1 3]" {
		t.Errorf("exported %v, want the marked exchanges [1 3]", spy.ids)
	}
	if !strings.Contains(d.screen(), "(marked only)") {
		t.Errorf("the result does not say only marked rows were written:\n%s", d.screen())
	}
	d.keys("U")
	spy.ids = nil
	d.keys("x", "enter")
	if len(spy.ids) != 9 {
		t.Errorf("after U, export wrote %d exchanges, want all 9", len(spy.ids))
	}
}

func TestFailedExportAt80(t *testing.T) {
	c := baseConfig(loadedStore())
	c.Export = func(context.Context, string, iter.Seq[*decode.Exchange], []*decode.Flow, bool) error {
		_, err := os.CreateTemp("/nonexistent/dir", ".a.pcap.tmp-*")
		return fmt.Errorf("-w /nonexistent/dir/a.pcap: %w (check that the directory exists and is writable)", err)
	}
	for _, sz := range sizes {
		d := newDriver(t, c, sz[0], sz[1])
		d.keys("x", "ctrl+u")
		d.typeText("/nonexistent/dir/a.pcap")
		d.keys("enter")
		scr := d.screen()
		checkFits(t, scr, sz[0], sz[1])
		flat := strings.Join(strings.Fields(scr), " ")
		if !strings.Contains(flat, "the folder /nonexistent/dir does not exist; press x and type a path in an existing folder") {
			t.Errorf("%dx%d: no whole sentence about the failed export:\n%s", sz[0], sz[1], scr)
		}
		if strings.Contains(scr, "tmp-") || strings.Contains(scr, "-w ") {
			t.Errorf("%dx%d: the message names a temp file or a CLI flag:\n%s", sz[0], sz[1], scr)
		}
		if sz[0] == 80 {
			golden(t, "export_failed_80x24", scr)
		}
		d.keys("E")
		if !strings.Contains(d.screen(), "does not exist") {
			t.Errorf("the failed export is not in the notes:\n%s", d.screen())
		}
	}
}

func TestPauseAndFollowFeedback(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("space")
	scr := d.screen()
	if strings.Contains(scr, "+0") || !strings.Contains(scr, "PAUSED") {
		t.Errorf("pause shows a count of nothing or no PAUSED:\n%s", scr)
	}
	d.keys("space", "f")
	if !strings.Contains(d.screen(), "read completely") {
		t.Errorf("f on a finished file gives no feedback:\n%s", d.screen())
	}
}

func TestJumpBothWays(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("j", "l") // exchange 2 is on flow 3 (1 + 2%3)
	if d.m.pane != paneFlows {
		t.Fatal("l did not go to the flows list")
	}
	if _, f := d.m.cursorItem(paneFlows); f == nil || f.ID != 3 {
		t.Fatalf("cursor is on flow %v, want 3", f)
	}
	d.keys("l")
	if d.m.pane != paneExchanges {
		t.Fatal("l on a flow did not go to the exchanges")
	}
	if e, _ := d.m.cursorItem(paneExchanges); e == nil || e.FlowID != 3 || e.ID != 2 {
		t.Errorf("cursor is on %+v, want the first exchange of flow 3 (id 2)", e)
	}
	d.keys("enter", "l")
	if d.m.pane != paneFlows || !d.m.detail.open || d.m.detail.id != 3 {
		t.Errorf("l from an open detail should open the flow's detail: pane=%d open=%v id=%d", d.m.pane, d.m.detail.open, d.m.detail.id)
	}
}

func TestFilterHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "tapview", "history")
	cfg := baseConfig(loadedStore())
	cfg.HistoryPath = path
	d := newDriver(t, cfg, 80, 24)
	for _, f := range []string{"status >= 500", "users", "status >= 500"} {
		d.keys("/", "ctrl+u")
		d.typeText(f)
		d.keys("enter")
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "users\nstatus >= 500\n" {
		t.Fatalf("history file = %q, %v; want the two filters, a repeat moved last", b, err)
	}
	// A new session reads it: Up gives the newest, Up again the older,
	// Down back to what was typed.
	d = newDriver(t, cfg, 80, 24)
	d.keys("/", "ctrl+u")
	d.typeText("hea")
	d.keys("up")
	if got := d.m.prompt.edit.String(); got != "status >= 500" {
		t.Errorf("up gives %q", got)
	}
	d.keys("up", "up")
	if got := d.m.prompt.edit.String(); got != "users" {
		t.Errorf("up up gives %q", got)
	}
	d.keys("down", "down")
	if got := d.m.prompt.edit.String(); got != "hea" {
		t.Errorf("down past the newest gives %q, want the typed text back", got)
	}
	// Bounded.
	for i := 0; i < historyMax+20; i++ {
		d.m.addHistory(fmt.Sprintf("word%d", i))
	}
	if len(d.m.history.entries) != historyMax {
		t.Errorf("history holds %d entries, want at most %d", len(d.m.history.entries), historyMax)
	}
}

func TestDefaultHistoryPath(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/x/state")
	if got := DefaultHistoryPath(); got != "/x/state/tapview/history" {
		t.Errorf("with XDG_STATE_HOME: %s", got)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/ada")
	if got := DefaultHistoryPath(); got != "/home/ada/.local/state/tapview/history" {
		t.Errorf("without XDG_STATE_HOME: %s", got)
	}
}

// chunkStream serves fixed chunks, as the CLI's reader does from a file.
type chunkStream struct {
	chunks []Chunk
	err    error
}

func (s chunkStream) Stream(context.Context, *decode.Flow, bool) (iter.Seq2[Chunk, error], error) {
	if s.err != nil {
		return nil, s.err
	}
	return func(yield func(Chunk, error) bool) {
		for _, c := range s.chunks {
			if !yield(c, nil) {
				return
			}
		}
	}, nil
}

func streamChunks() []Chunk {
	return []Chunk{
		{Frame: 4, Time: at(0), FromClient: true, Data: []byte("GET /v1/users?page=2 HTTP/1.1\r\nHost: api.example.com\r\n\r\n")},
		{Frame: 6, Time: at(11), Data: []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[{\"id\":1}]\x00\x01")},
		{Frame: 7, Time: at(12), Note: "retransmission, not repeated"},
	}
}

func TestBytesGolden(t *testing.T) {
	cfg := func() Config {
		c := baseConfig(loadedStore())
		c.Stream = chunkStream{chunks: streamChunks()}
		return c
	}
	goldenSizes(t, "bytes_text", cfg, "s")
	goldenSizes(t, "bytes_hex", cfg, "s", "v")
	d := newDriver(t, cfg(), 80, 24)
	d.keys("s")
	scr := d.screen()
	for _, want := range []string{"frame 4", "client → server", "frame 6", "server → client", "GET /v1/users", "retransmission"} {
		if !strings.Contains(scr, want) {
			t.Errorf("bytes view lacks %q:\n%s", want, scr)
		}
	}
	// The two directions are drawn in different colours.
	raw := d.raw()
	if !strings.Contains(raw, d.m.st.streamC.Render("GET /v1/users?page=2 HTTP/1.1")) ||
		!strings.Contains(raw, d.m.st.streamS.Render("HTTP/1.1 200 OK")) {
		t.Error("directions are not coloured apart")
	}
	d.keys("q")
	if d.m.over != nil {
		t.Error("q does not leave the bytes view")
	}
}

func TestBytesNotKept(t *testing.T) {
	c := baseConfig(loadedStore())
	c.Stream = chunkStream{err: ErrNoBytes}
	goldenSizes(t, "bytes_not_kept", func() Config { return c }, "s")
	d := newDriver(t, c, 80, 24)
	d.keys("s")
	if flat := strings.Join(strings.Fields(d.screen()), " "); !strings.Contains(flat, "recorded with -w FILE.pcapng") {
		t.Errorf("no next step when the bytes are not kept:\n%s", d.screen())
	}
	c.Stream = chunkStream{err: errors.New("open capture.pcap: no such file or directory")}
	d = newDriver(t, c, 80, 24)
	d.keys("s")
	if !strings.Contains(d.screen(), "no such file") {
		t.Errorf("a read error is not shown:\n%s", d.screen())
	}
}

// multiDayStore has two sources with long names sharing a prefix and a
// suffix, on different days.
func multiDayStore() *fakeStore {
	s := loadedStore()
	a, b := "http11_keepalive_5req_1conn.pcap", "http11_file_cut_short_mid_record.pcap"
	for i, e := range s.ex {
		if i%2 == 1 {
			e.Source = b
			e.Start = e.Start.Add(-40 * 24 * time.Hour)
		} else {
			e.Source = a
		}
	}
	s.stats = []decode.SourceStats{{Name: a, Done: true}, {Name: b, Done: true}}
	return s
}

func TestTruncationGolden(t *testing.T) {
	goldenSizes(t, "truncation", func() Config { return baseConfig(multiDayStore()) })
	d := newDriver(t, baseConfig(multiDayStore()), 80, 24)
	scr := d.screen()
	if !strings.Contains(scr, "03-14 09:26:53") || !strings.Contains(scr, "02-02 09:26:53") {
		t.Errorf("times over several days lack their dates:\n%s", scr)
	}
	if !strings.Contains(scr, "…keepali") || !strings.Contains(scr, "…file_cu") {
		t.Errorf("the two sources are not told apart:\n%s", scr)
	}
	// The path stays readable at 80 columns.
	if !strings.Contains(scr, "/v1/users/99") {
		t.Errorf("the path is hidden at 80 columns:\n%s", scr)
	}
}

func TestSourceLabels(t *testing.T) {
	got := sourceLabels([]string{"http11_keepalive_5req_1conn.pcap", "http11_file_cut_short_mid_record.pcap"}, 10)
	if got["http11_keepalive_5req_1conn.pcap"] == got["http11_file_cut_short_mid_record.pcap"] {
		t.Errorf("labels collide: %v", got)
	}
	for n, l := range got {
		if width(l) > 10 {
			t.Errorf("%s -> %q is wider than 10", n, l)
		}
	}
	if l := sourceLabels([]string{"a.pcap", "b.pcap"}, 10)["a.pcap"]; l != "a.pcap" {
		t.Errorf("a short name was changed: %q", l)
	}
}

func TestDNSCellsNotCut(t *testing.T) {
	s := loadedStore()
	q := &decode.Exchange{ID: 40, FlowID: 3, Source: "capture.pcap", Proto: "dns", Version: 1, Client: client, Server: server,
		Start: at(2000), End: at(2001), State: decode.Complete,
		DNS: &decode.DNSInfo{Type: "AAAA", Name: "missing.example.com", Rcode: "NXDOMAIN"}}
	s.add(q)
	for _, sz := range sizes {
		d := newDriver(t, baseConfig(s), sz[0], sz[1])
		scr := d.screen()
		if !strings.Contains(scr, "DNS AAAA") || !strings.Contains(scr, "NXDOMAIN") {
			t.Errorf("%dx%d: DNS type or rcode cut:\n%s", sz[0], sz[1], scr)
		}
		checkFits(t, scr, sz[0], sz[1])
	}
}

func TestTitlesAndStatusNotZero(t *testing.T) {
	dns := &decode.Exchange{Proto: "dns", State: decode.Complete, Response: &decode.Message{},
		DNS: &decode.DNSInfo{Type: "A", Name: "example.com", Rcode: "NOERROR"}}
	ws := &decode.Exchange{Proto: "ws", State: decode.Complete, Request: &decode.Message{}, Response: &decode.Message{}}
	for _, e := range []*decode.Exchange{dns, ws} {
		if title := exchangeTitle(e); strings.Contains(title, "→  0") {
			t.Errorf("%s title reads → 0: %q", e.Proto, title)
		}
	}
	watch := &decode.Exchange{Proto: "grpc", State: decode.Reset, GRPC: &decode.GRPCInfo{Status: -1},
		Response: &decode.Message{Status: 200}}
	if s, _ := statusText(watch); s != "RST" {
		t.Errorf("a reset gRPC stream without status shows %q, want RST", s)
	}
}
