package ui

import (
	"context"
	"flag"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("screen differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func baseConfig(s *fakeStore) Config {
	return Config{Store: s, Title: "capture.pcap", Compile: fakeCompile, Mask: fakeMask}
}

func loadedStore() *fakeStore {
	s := newFakeStore()
	s.add(fixtures()...)
	s.fl = flowFixtures()
	s.stats = []decode.SourceStats{{Name: "capture.pcap", Packets: 120, Bytes: 48213, Total: 48213, Done: true}}
	return s
}

func TestListGolden(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	golden(t, "list_80x24", d.screen())
	d.keys("j", "j")
	golden(t, "list_cursor_80x24", d.screen())
}

func TestFlowsGolden(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("2")
	golden(t, "flows_80x24", d.screen())
	d.keys("enter")
	golden(t, "flow_detail_80x24", d.screen())
}

func TestDetailJSONPostGolden(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("j", "enter")
	golden(t, "detail_post_request_80x24", d.screen())
	d.keys("tab")
	golden(t, "detail_post_response_80x24", d.screen())
	d.keys("tab")
	golden(t, "detail_post_timing_80x24", d.screen())
	d.keys("tab")
	golden(t, "detail_post_raw_80x24", d.screen())
}

func TestMaskingGolden(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("j", "enter")
	masked := d.screen()
	if strings.Contains(masked, "hunter2") || strings.Contains(masked, "eyJhbGci") || strings.Contains(masked, "abc123") {
		t.Errorf("masked screen shows a secret:\n%s", masked)
	}
	if strings.Contains(masked, "UNMASKED") {
		t.Error("masked screen says UNMASKED")
	}
	golden(t, "masking_on_80x24", masked)

	d.keys("m")
	unmasked := d.screen()
	for _, secret := range []string{"hunter2", "Bearer eyJhbGciOiJIUzI1NiJ9.secret", "token=abc123", "UNMASKED"} {
		if !strings.Contains(unmasked, secret) {
			t.Errorf("unmasked screen lacks %q", secret)
		}
	}
	golden(t, "masking_off_80x24", unmasked)
	// UNMASKED is drawn in reverse red.
	if raw := d.raw(); !strings.Contains(raw, "UNMASKED") || !strings.Contains(raw, "\x1b[") {
		t.Error("UNMASKED is not styled")
	}

	d.keys("esc")
	d.send(tea.WindowSizeMsg{Width: 160, Height: 24})
	if list := d.screen(); !strings.Contains(list, "token=abc123") {
		t.Errorf("unmasked list hides the token:\n%s", list)
	}
	d.keys("m")
	if list := d.screen(); strings.Contains(list, "abc123") {
		t.Errorf("masked list shows the token:\n%s", list)
	}
}

func TestFilterErrorGolden(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("/")
	d.typeText("status >= 5oo")
	d.keys("enter")
	scr := d.screen()
	golden(t, "filter_error_80x24", scr)
	if d.m.prompt == nil {
		t.Fatal("prompt closed on a compile error")
	}
	// The caret sits under the bad value: column of "5oo" in the prompt.
	lines := strings.Split(scr, "\n")
	errLine, promptLine := lines[len(lines)-3], lines[len(lines)-2]
	caret := width(errLine[:strings.Index(errLine, "^")])
	value := width(promptLine[:strings.Index(promptLine, "5oo")])
	if caret != value {
		t.Errorf("caret at column %d, value at %d:\n%s\n%s", caret, value, errLine, promptLine)
	}
	// esc keeps the old (empty) filter.
	d.keys("esc")
	if d.m.idx[paneExchanges].active() || d.m.prompt != nil {
		t.Error("esc after an error changed the filter or left the prompt open")
	}
	if got := d.m.shown(paneExchanges); got != 9 {
		t.Errorf("shown = %d, want 9", got)
	}
}

func TestFilterApplyAndKeep(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("/")
	d.typeText("status >= 500")
	d.keys("enter")
	if got := d.m.shown(paneExchanges); got != 1 {
		t.Fatalf("status >= 500 shows %d rows, want 1", got)
	}
	golden(t, "filter_applied_80x24", d.screen())
	// A new filter that fails keeps the old one on esc.
	d.keys("/", "backspace", "backspace", "backspace")
	d.typeText("xyz")
	d.keys("enter", "esc")
	if ix := d.m.idx[paneExchanges]; ix.expr != "status >= 500" {
		t.Errorf("filter after esc = %q", ix.expr)
	}
	// Clearing the filter shows everything again.
	d.keys("/")
	d.send(keyMsg("esc"))
	d.keys("/")
	for range len("status >= 500") {
		d.keys("backspace")
	}
	d.keys("enter")
	if d.m.idx[paneExchanges].active() || d.m.shown(paneExchanges) != 9 {
		t.Errorf("cleared filter: active=%v shown=%d", d.m.idx[paneExchanges].active(), d.m.shown(paneExchanges))
	}
}

func TestFilterIncremental(t *testing.T) {
	s := loadedStore()
	d := newDriver(t, baseConfig(s), 80, 24)
	d.keys("/")
	d.typeText("status >= 500")
	d.keys("enter")
	if got := d.m.shown(paneExchanges); got != 1 {
		t.Fatalf("shown = %d, want 1", got)
	}
	// A new 500 arrives, and the pending /v1/report completes with 504.
	s.add(exchange(10, 2000, "GET", "/v1/fail", 500, "", "", "text/plain", "boom"))
	done := exchange(7, 1200, "GET", "/v1/report", 504, "", "", "text/plain", "timeout")
	done.Version = 2
	s.add(done)
	d.send(storeChangedMsg{})
	if got, want := d.m.idx[paneExchanges].matches, []int{2, 6, 9}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("matches = %v, want %v", got, want)
	}
	if !strings.Contains(d.screen(), "/v1/report") {
		t.Errorf("completed exchange not listed:\n%s", d.screen())
	}
}

func TestHelpGolden(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("?")
	scr := d.screen()
	golden(t, "help_80x24", scr)
	for _, b := range []string{"j/↓", "pgdn", "enter", "toggle masking", "copy as curl", "export shown", "pause/resume"} {
		if !strings.Contains(scr, b) {
			t.Errorf("help lacks %q", b)
		}
	}
	d.keys("x")
	if d.m.over != nil || d.m.prompt != nil {
		t.Error("a key in help did something besides closing it")
	}
}

func TestWideSplitGolden(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 160, 40)
	d.keys("j", "enter")
	if !d.m.split() {
		t.Fatal("no split at 160x40")
	}
	golden(t, "split_160x40", d.screen())
	d.send(tea.WindowSizeMsg{Width: 250, Height: 70})
	golden(t, "split_250x70", d.screen())
	// J moves to the next exchange; the detail follows.
	d.keys("J")
	if d.m.detail.id != 3 || !strings.Contains(d.screen(), "GET /healthz HTTP/1.1") {
		t.Errorf("detail did not follow the cursor: id=%d", d.m.detail.id)
	}
}

func TestSanitizedOnScreen(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("G", "enter", "tab")
	raw := d.raw()
	for _, bad := range []string{"\x1b[2J", "\x1b]0;", "\u202e", "\x07"} {
		if strings.Contains(raw, bad) {
			t.Errorf("frame contains raw %q", bad)
		}
	}
	if scr := d.screen(); !strings.Contains(scr, `\x1b]0;pwned\x07`) || !strings.Contains(scr, `\x1b[2Jevil\u202e`) {
		t.Errorf("escaped wire strings not shown:\n%s", scr)
	}
}

func TestResizeKeepsLayout(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	for _, sz := range [][2]int{{250, 70}, {100, 30}, {80, 24}, {120, 36}, {40, 8}} {
		d.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		lines := strings.Split(d.screen(), "\n")
		if got := len(lines) - 1; got != sz[1] {
			t.Errorf("%dx%d: %d lines", sz[0], sz[1], got)
		}
		for i, l := range strings.Split(strings.TrimSuffix(d.screen(), "\n"), "\n") {
			if w := width(l); w > sz[0] {
				t.Errorf("%dx%d: line %d is %d wide: %q", sz[0], sz[1], i, w, l)
			}
		}
	}
}

func TestPauseFreezesCounts(t *testing.T) {
	s := loadedStore()
	d := newDriver(t, baseConfig(s), 80, 24)
	d.keys("space")
	s.add(exchange(20, 3000, "GET", "/later", 200, "", "", "text/plain", "x"))
	d.send(storeChangedMsg{})
	if d.m.shown(paneExchanges) != 9 || !strings.Contains(d.screen(), "PAUSED · 1 new") {
		t.Errorf("paused view moved: shown=%d\n%s", d.m.shown(paneExchanges), d.screen())
	}
	d.keys("space")
	if d.m.shown(paneExchanges) != 10 {
		t.Errorf("resume did not catch up: %d", d.m.shown(paneExchanges))
	}
}

func TestFollowNewest(t *testing.T) {
	s := loadedStore()
	cfg := baseConfig(s)
	cfg.Live = true
	d := newDriver(t, cfg, 80, 24)
	if d.m.lists[paneExchanges].cursor != 8 {
		t.Fatalf("live view starts at %d, want the newest (8)", d.m.lists[paneExchanges].cursor)
	}
	s.add(exchange(21, 3000, "GET", "/newest", 200, "", "", "text/plain", "x"))
	d.send(storeChangedMsg{})
	if d.m.lists[paneExchanges].cursor != 9 {
		t.Errorf("follow did not move to the new row: %d", d.m.lists[paneExchanges].cursor)
	}
	d.keys("k")
	s.add(exchange(22, 3100, "GET", "/newer", 200, "", "", "text/plain", "x"))
	d.send(storeChangedMsg{})
	if l := d.m.lists[paneExchanges]; l.follow || l.cursor != 8 {
		t.Errorf("moving up should stop following: %+v", l)
	}
}

func TestCopyCurl(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("j", "c")
	clip := lastClipboard(d)
	if !strings.Contains(clip, "curl") || strings.Contains(clip, "hunter2") || strings.Contains(clip, "eyJhbGci") {
		t.Errorf("masked curl copy = %q", clip)
	}
	if !strings.Contains(d.screen(), "copied as curl (masked)") {
		t.Errorf("no confirmation:\n%s", d.screen())
	}
	d.keys("m", "c")
	if clip := lastClipboard(d); !strings.Contains(clip, "hunter2") {
		t.Errorf("unmasked curl copy = %q", clip)
	}
}

// lastClipboard finds the last OSC 52 request the model produced.
func lastClipboard(d *driver) string {
	for i := len(d.seen) - 1; i >= 0; i-- {
		if fmt.Sprintf("%T", d.seen[i]) == "tea.setClipboardMsg" {
			return fmt.Sprint(d.seen[i])
		}
	}
	return ""
}

func TestExport(t *testing.T) {
	var mu sync.Mutex
	var gotPath string
	var gotEx []*decode.Exchange
	var gotFl []*decode.Flow
	var gotMasked bool
	cfg := baseConfig(loadedStore())
	cfg.Export = func(_ context.Context, path string, seq iter.Seq[*decode.Exchange], fls []*decode.Flow, masked bool) error {
		exs := slices.Collect(seq)
		mu.Lock()
		defer mu.Unlock()
		gotPath, gotEx, gotFl, gotMasked = path, exs, fls, masked
		if strings.HasSuffix(path, "full.har") {
			return errExportFailed
		}
		return nil
	}
	d := newDriver(t, cfg, 80, 24)
	d.keys("/")
	d.typeText("status >= 400")
	d.keys("enter", "x")
	for range len("tapview-export.har") {
		d.keys("backspace")
	}
	d.typeText("out.txt")
	d.keys("enter")
	if d.m.prompt == nil || !strings.Contains(d.screen(), "extension picks the format") {
		t.Fatalf("bad extension accepted:\n%s", d.screen())
	}
	for range len("txt") {
		d.keys("backspace")
	}
	d.typeText("pcapng")
	d.keys("enter")
	mu.Lock()
	if gotPath != "out.pcapng" || len(gotEx) != 2 || !gotMasked {
		t.Errorf("export got path=%q exchanges=%d masked=%v", gotPath, len(gotEx), gotMasked)
	}
	if len(gotFl) == 0 {
		t.Error("export got no flows for its exchanges")
	}
	mu.Unlock()
	if !strings.Contains(d.screen(), "exported 2 exchanges") {
		t.Errorf("no export confirmation:\n%s", d.screen())
	}
	d.keys("x")
	for range len("out.pcapng") {
		d.keys("backspace")
	}
	d.typeText("full.har")
	d.keys("enter")
	if !strings.Contains(d.screen(), "disk full") {
		t.Errorf("export error not shown:\n%s", d.screen())
	}
}

func TestDetailSearch(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("j", "enter", "/")
	d.typeText("scopes")
	d.keys("enter")
	dt := d.m.detail
	if len(dt.matches) != 1 || !strings.Contains(dt.lines[dt.matches[0]].text, `"scopes"`) {
		t.Fatalf("search matches = %v", dt.matches)
	}
	if !strings.Contains(d.screen(), "/scopes 1 of 1") {
		t.Errorf("search state not shown:\n%s", d.screen())
	}
	d.keys("n")
	if d.m.detail.cur != 0 {
		t.Errorf("n with one match moved to %d", d.m.detail.cur)
	}
}

func TestBodyViewCycle(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("j", "enter")
	if got := d.m.detail.used[0].String(); got != "json" {
		t.Fatalf("request body shown as %s", got)
	}
	d.keys("v")
	if got := d.m.detail.used[0].String(); got != "form" {
		t.Errorf("after v the body is %s, want the next view (form)", got)
	}
}

func TestLoadingGolden(t *testing.T) {
	s := loadedStore()
	s.stats = []decode.SourceStats{{Name: "big.pcapng", Packets: 12345, Bytes: 3 << 20, Total: 8 << 20}}
	d := newDriver(t, baseConfig(s), 80, 24)
	scr := d.screen()
	golden(t, "loading_80x24", scr)
	if !strings.Contains(scr, "reading big.pcapng · 12,345 packets · 3.0 MiB of 8.0 MiB · 37%") {
		t.Errorf("no progress line:\n%s", scr)
	}
	// The list is usable while loading.
	d.keys("j", "enter")
	if !d.m.detail.open || d.m.detail.id != 2 {
		t.Errorf("detail while loading: open=%v id=%d", d.m.detail.open, d.m.detail.id)
	}
	// Finishing removes the progress line.
	s.stats[0].Done = true
	d.send(storeChangedMsg{})
	if strings.Contains(d.screen(), "reading big.pcapng") {
		t.Error("progress line stays after loading")
	}
}

func TestGRPCDetailGolden(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("j", "j", "j", "j", "j", "enter")
	golden(t, "grpc_request_80x24", d.screen())
	d.keys("tab")
	scr := d.screen()
	golden(t, "grpc_response_80x24", scr)
	if !strings.Contains(scr, "gRPC status 14 UNAVAILABLE: connection refused") {
		t.Errorf("gRPC status missing:\n%s", scr)
	}
}

func TestLongFilterErrorWraps(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("/")
	d.typeText("method == 1 && status > 500 && nonsense")
	d.m.prompt.err = strings.Repeat("this message explains at length what went wrong ", 3)
	d.m.prompt.errPos = 30
	d.m.fixLists()
	lines := strings.Split(strings.TrimSuffix(d.screen(), "\n"), "\n")
	if len(lines) != 24 {
		t.Fatalf("%d lines", len(lines))
	}
	tail := strings.Join(lines[len(lines)-4:], "\n")
	if !strings.Contains(tail, "^") || !strings.Contains(tail, "what went wrong") {
		t.Errorf("wrapped error not shown:\n%s", tail)
	}
	for _, l := range lines {
		if width(l) > 80 {
			t.Errorf("line too wide: %q", l)
		}
	}
}

func TestMouse(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.send(tea.MouseWheelMsg{X: 10, Y: 5, Button: tea.MouseWheelDown})
	if c := d.m.lists[paneExchanges].cursor; c != 3 {
		t.Errorf("wheel down moved the cursor to %d, want 3", c)
	}
	d.send(tea.MouseClickMsg{X: 10, Y: listTop + 4, Button: tea.MouseLeft})
	if c := d.m.lists[paneExchanges].cursor; c != 4 {
		t.Errorf("click selected row %d, want 4", c)
	}
	d.send(tea.MouseClickMsg{X: 10, Y: listTop + 4, Button: tea.MouseLeft})
	if !d.m.detail.open || d.m.detail.id != 5 {
		t.Errorf("second click did not open the row: open=%v id=%d", d.m.detail.open, d.m.detail.id)
	}
	d.keys("esc", "g", "j", "enter") // the JSON POST has a long body
	d.send(tea.WindowSizeMsg{Width: 80, Height: 12})
	d.send(tea.MouseWheelMsg{X: 10, Y: 8, Button: tea.MouseWheelDown})
	if d.m.detail.scroll == 0 {
		t.Error("wheel over the detail did not scroll it")
	}
}

func TestFlowFilter(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("2", "/")
	d.typeText("grpc")
	d.keys("enter")
	if got := d.m.shown(paneFlows); got != 1 {
		t.Errorf("flow filter shows %d flows, want 1", got)
	}
	if d.m.idx[paneExchanges].active() {
		t.Error("the flow filter leaked into the exchanges pane")
	}
	if !strings.Contains(d.screen(), "flow filter") && !strings.Contains(d.screen(), "filter grpc") {
		t.Errorf("filter not shown:\n%s", d.screen())
	}
}

func TestRawTab(t *testing.T) {
	cfg := baseConfig(loadedStore())
	var asked []uint64
	var mu sync.Mutex
	cfg.Raw = func(e *decode.Exchange) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, e.ID)
		return []byte("POST /v1/login?token=abc123 HTTP/1.1\r\n"), nil
	}
	d := newDriver(t, cfg, 80, 24)
	d.keys("j", "enter", "tab", "tab", "tab")
	scr := d.screen()
	if !strings.Contains(scr, "Masking is on") || strings.Contains(scr, "bytes as captured ·") {
		t.Errorf("masked raw tab shows captured bytes:\n%s", scr)
	}
	d.keys("m")
	scr = d.screen()
	if !strings.Contains(scr, "bytes as captured · 38 B") || !strings.Contains(scr, "|POST /v1/login?t|") {
		t.Errorf("unmasked raw tab:\n%s", scr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 || asked[0] != 2 {
		t.Errorf("Raw called for %v, want once for exchange 2", asked)
	}
}

func TestSourceNoteShown(t *testing.T) {
	s := loadedStore()
	s.notes = []sources.Status{{Source: "capture.pcap", Level: sources.Warning, Kind: "truncated",
		Message: "file cut short in the middle of a packet\x1b[2J"}}
	d := newDriver(t, baseConfig(s), 80, 24)
	scr := d.screen()
	if !strings.Contains(scr, "⚠ truncated") {
		t.Errorf("note kind not in the status bar:\n%s", scr)
	}
	d.send(tea.WindowSizeMsg{Width: 200, Height: 24})
	if scr := d.screen(); !strings.Contains(scr, `file cut short in the middle of a packet\x1b[2J`) {
		t.Errorf("note text not shown (sanitized) at 200 columns:\n%s", scr)
	}
}

func TestDNSDetail(t *testing.T) {
	s := newFakeStore()
	s.add(&decode.Exchange{ID: 1, Source: "dns.pcap", Proto: "dns", Version: 1, Client: client, Server: server,
		Start: at(0), End: at(3), State: decode.Complete,
		DNS: &decode.DNSInfo{ID: 4242, Name: "example.com", Type: "A", Rcode: "NOERROR", Answers: []string{"93.184.216.34", "93.184.216.35"}}})
	d := newDriver(t, baseConfig(s), 80, 24)
	if scr := d.screen(); !strings.Contains(scr, "DNS A   example.com                  OK     3.00ms") {
		t.Errorf("DNS row:\n%s", scr)
	}
	d.keys("enter")
	if scr := d.screen(); !strings.Contains(scr, "query      example.com") {
		t.Errorf("DNS request tab:\n%s", scr)
	}
	d.keys("tab")
	if scr := d.screen(); !strings.Contains(scr, "answers    93.184.216.34") || !strings.Contains(scr, "93.184.216.35") {
		t.Errorf("DNS response tab:\n%s", scr)
	}
}

// TestDNSDetailSections: a DNS exchange as decode/dns builds it (request
// and response messages whose parts are the sections) reads without an
// empty start line, a "0" status or a direction on every section.
func TestDNSDetailSections(t *testing.T) {
	s := newFakeStore()
	q := decode.Part{Kind: "question", Data: []byte("www.tcpdump.org. IN A"), Size: 21}
	s.add(&decode.Exchange{ID: 1, Source: "dns.pcap", Proto: "dns", Version: 1, Client: client, Server: server,
		Start: at(0), End: at(3), State: decode.Complete,
		Request:  &decode.Message{First: at(0), Last: at(0), Parts: []decode.Part{q}},
		Response: &decode.Message{First: at(3), Last: at(3), Parts: []decode.Part{q, {Kind: "answer", Data: []byte("www.tcpdump.org. 60 IN A 192.139.46.66"), Size: 32}}},
		DNS:      &decode.DNSInfo{ID: 7, Name: "www.tcpdump.org", Type: "A", Rcode: "NOERROR", Answers: []string{"192.139.46.66"}}})
	d := newDriver(t, baseConfig(s), 80, 24)
	d.keys("enter")
	req := d.screen()
	if !strings.Contains(req, "query      www.tcpdump.org") || !strings.Contains(req, "question 1/1") || strings.Contains(req, "→ client") {
		t.Errorf("DNS request tab:\n%s", req)
	}
	d.keys("tab")
	resp := d.screen()
	if !strings.Contains(resp, "rcode      NOERROR") || !strings.Contains(resp, "answer 2/2") || strings.Contains(resp, "→ client") {
		t.Errorf("DNS response tab:\n%s", resp)
	}
	for _, l := range strings.Split(resp, "\n") {
		if strings.TrimSpace(l) == "0" {
			t.Errorf("the response tab has a bare 0 line:\n%s", resp)
		}
	}
}
