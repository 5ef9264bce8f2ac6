package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode/filter"
	"github.com/tapview/tapview/decode/spill"
	"github.com/tapview/tapview/decode/store"
)

// evictingStore is the real memory-bounded store with a budget small
// enough that a few thousand exchanges overflow it.
func evictingStore(t *testing.T) *store.Store {
	sp, err := spill.Open(spill.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	return store.New(store.Options{Budget: 1 << 20, Spill: sp})
}

func fillEvicting(s *store.Store, from, to int) {
	for i := from; i < to; i++ {
		status := 200
		if i%10 == 0 {
			status = 503
		}
		body := fmt.Sprintf(`{"n":%d,"secret":"token-%d"}`, i, i)
		e := exchange(uint64(i+1), float64(i), "GET", fmt.Sprintf("/item/%d", i), status, "", "", "application/json", body)
		e.Source = "capture.pcap"
		s.Exchange(e)
	}
}

func realCompile(expr string) (Matcher, error) {
	p, err := filter.Compile(expr)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// TestCursorFollowsEviction: when the store drops its oldest exchanges,
// the cursor stays on the exchange it was on, the status bar says how much
// is kept, and the newest exchanges open whole (re-read from the spill).
func TestCursorFollowsEviction(t *testing.T) {
	s := evictingStore(t)
	fillEvicting(s, 0, 6000)
	d := newDriver(t, Config{Store: s, Title: "capture.pcap", Compile: realCompile}, 160, 40)
	d.keys("G")
	d.keys("k", "k")
	sel, _ := d.m.cursorItem(paneExchanges)
	if sel == nil {
		t.Fatal("no exchange under the cursor")
	}
	fillEvicting(s, 6000, 12_000)
	d.send(storeChangedMsg{})
	base, _ := s.Base()
	if base == 0 {
		t.Fatal("the store did not evict; the test needs a smaller budget")
	}
	now, _ := d.m.cursorItem(paneExchanges)
	if now == nil || now.ID != sel.ID {
		t.Fatalf("cursor moved from exchange %d to %v after eviction", sel.ID, now)
	}
	screen := d.screen()
	if want := fmt.Sprintf("/item/%d ", sel.ID-1); !strings.Contains(screen, want) {
		t.Errorf("list does not show the selected exchange %s after eviction:\n%s", want, screen)
	}
	if !strings.Contains(screen, "kept last") {
		t.Errorf("status bar does not say what eviction kept:\n%s", screen)
	}
	d.keys("G", "enter", "tab")
	if screen := d.screen(); !strings.Contains(screen, "token-11999") {
		t.Errorf("newest exchange's body not shown from the spill:\n%s", screen)
	}
}

// TestBodyFilterOnSummaries: a filter on bodies runs its cheap part on
// summaries and the rest on whole exchanges re-read from disk, and agrees
// with the filter on every kept exchange.
func TestBodyFilterOnSummaries(t *testing.T) {
	s := evictingStore(t)
	fillEvicting(s, 0, 3000)
	d := newDriver(t, Config{Store: s, Title: "capture.pcap", Compile: realCompile}, 160, 40)
	d.keys("/")
	d.typeText(`status >= 500 && resp_body.contains("token-29")`)
	d.keys("enter")
	ix := d.m.idx[paneExchanges]
	var want []int
	for i := 0; i < 3000; i++ {
		if i%10 == 0 && strings.Contains(fmt.Sprintf("token-%d", i), "token-29") {
			want = append(want, i)
		}
	}
	if fmt.Sprint(ix.matches) != fmt.Sprint(want) {
		t.Fatalf("matches %v, want %v", ix.matches, want)
	}
	// New arrivals are filtered incrementally, also past eviction.
	fillEvicting(s, 3000, 30_000)
	d.send(storeChangedMsg{})
	base, _ := s.Base()
	ix = d.m.idx[paneExchanges]
	for _, p := range ix.matches {
		if p < base {
			t.Fatalf("match %d below the store's base %d after eviction", p, base)
		}
		e := s.ExchangeRange(p, p+1)[0]
		if e == nil || e.Status() != 503 {
			t.Fatalf("position %d does not match: %+v", p, e)
		}
	}
	if len(ix.matches) == 0 {
		t.Fatal("no matches among the newest exchanges")
	}
}
