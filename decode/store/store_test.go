package store

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/spill"
)

func openSpill(t testing.TB, max int64) *spill.Store {
	t.Helper()
	sp, err := spill.Open(spill.Options{Dir: t.TempDir(), MaxBytes: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	return sp
}

// httpExchange is a final HTTP/1 exchange with a body, as a decoder
// publishes it.
func httpExchange(id uint64, body string) *decode.Exchange {
	t0 := time.Unix(1_700_000_000, 0).Add(time.Duration(id) * time.Millisecond)
	return &decode.Exchange{
		ID: id, FlowID: 1 + id/10, Source: "t.pcap", Proto: "http/1.1", Version: 2, State: decode.Complete,
		Client: netip.MustParseAddrPort("127.0.0.1:40000"), Server: netip.MustParseAddrPort("127.0.0.1:8080"),
		Start: t0, End: t0.Add(time.Millisecond),
		Request: &decode.Message{Method: "GET", Target: fmt.Sprintf("/items/%d", id), Host: "api.local", Proto: "HTTP/1.1",
			Headers: []decode.Header{{Name: "Host", Value: "api.local"}, {Name: "X-Req", Value: fmt.Sprint(id)}}},
		Response: &decode.Message{Status: 200, Reason: "OK", Proto: "HTTP/1.1",
			Headers: []decode.Header{{Name: "Content-Type", Value: "application/json"}},
			Body:    []byte(body), BodySize: int64(len(body)), DecodedSize: int64(len(body))},
	}
}

func TestWholeExchangeComesBackFromSpill(t *testing.T) {
	s := New(Options{Spill: openSpill(t, 0)})
	pending := httpExchange(1, "")
	pending.State, pending.Response, pending.Version = decode.Pending, nil, 1
	s.Exchange(pending)
	if got := s.ExchangeRange(0, 1); len(got) != 1 || got[0] != pending {
		t.Fatalf("pending exchange should be kept as published, got %v", got)
	}
	final := httpExchange(1, `{"ok":true}`)
	s.Exchange(final)
	if ex, _ := s.Len(); ex != 1 {
		t.Fatalf("Len = %d after republishing one exchange, want 1", ex)
	}
	row := s.ExchangeRange(0, 1)[0]
	if !row.Slim || row.Response.Body != nil || row.Status() != 200 || row.Path() != "/items/1" {
		t.Fatalf("list row should be a slim summary with status and path, got %+v", row)
	}
	whole := s.ExchangeByID(1)
	if whole == nil || whole.Slim || string(whole.Response.Body) != `{"ok":true}` || whole.Request.HeaderValue("X-Req") != "1" {
		t.Fatalf("ExchangeByID should give the whole exchange back, got %+v", whole)
	}
}

func TestEvictsOldestWithinBudget(t *testing.T) {
	const budget = 1 << 20
	s := New(Options{Budget: budget, Spill: openSpill(t, 0)})
	const n = 30_000
	for id := uint64(1); id <= n; id++ {
		s.Exchange(httpExchange(id, "{}"))
		if id%1000 == 0 {
			if m := s.Memory(); m > budget {
				t.Fatalf("after %d exchanges the store holds %d bytes, over its %d budget", id, m, budget)
			}
		}
	}
	base, _ := s.Base()
	end, _ := s.Len()
	evicted, _ := s.Retention()
	if end != n {
		t.Fatalf("Len = %d, want %d (positions are absolute)", end, n)
	}
	if base == 0 || int64(base) != evicted {
		t.Fatalf("base %d, evicted %d: want eviction counted at the front", base, evicted)
	}
	if kept := end - base; kept < 4_000 {
		t.Errorf("only %d summaries fit in %d bytes", kept, budget)
	}
	got := s.ExchangeRange(base-2, base+2)
	if len(got) != 4 || got[0] != nil || got[1] != nil || got[2] == nil || got[2].ID != uint64(base+1) {
		t.Fatalf("range around base: want two nils then exchange %d, got %v", base+1, got)
	}
	if e := s.ExchangeByID(1); e != nil {
		t.Errorf("evicted exchange 1 still readable: %+v", e)
	}
	// Every position is shown or counted as evicted: nothing vanishes.
	shown := 0
	s.Scan(0, end, func(int, *decode.Exchange) bool { shown++; return true })
	if int64(shown)+evicted != n {
		t.Errorf("shown %d + evicted %d != published %d", shown, evicted, n)
	}
}

func TestPinnedExchangeSurvivesEviction(t *testing.T) {
	s := New(Options{Budget: 512 << 10, Spill: openSpill(t, 0)})
	s.Exchange(httpExchange(1, "keep me"))
	s.Pin(1)
	for id := uint64(2); id < 20_000; id++ {
		s.Exchange(httpExchange(id, "x"))
	}
	if base, _ := s.Base(); base == 0 {
		t.Fatal("nothing was evicted; the test needs a smaller budget")
	}
	e := s.ExchangeByID(1)
	if e == nil || string(e.Response.Body) != "keep me" {
		t.Fatalf("pinned exchange lost after eviction: %+v", e)
	}
}

func TestViewSharesDataAndTrims(t *testing.T) {
	s := New(Options{Budget: 512 << 10, Spill: openSpill(t, 0)})
	v := s.View()
	for id := uint64(1); id < 20_000; id++ {
		e := httpExchange(id, "b")
		s.Exchange(e)
		if id%2 == 0 { // the view shows every other exchange
			v.Exchange(e)
		}
	}
	vb, _ := v.Base()
	ve, _ := v.Len()
	if ve != 19_999/2 {
		t.Fatalf("view Len = %d, want %d", ve, 19_999/2)
	}
	if vb == 0 {
		t.Fatal("the view kept positions whose exchanges the primary evicted")
	}
	for _, e := range v.ExchangeRange(vb, ve) {
		if e == nil || e.ID%2 != 0 {
			t.Fatalf("view shows %v", e)
		}
	}
	if s.Memory() > 512<<10 {
		t.Errorf("two lists hold %d bytes, over the shared budget", s.Memory())
	}
}

func TestFlowsEvictedPastTheirShare(t *testing.T) {
	s := New(Options{Budget: 1 << 20})
	for id := uint64(1); id <= 20_000; id++ {
		s.Flow(&decode.Flow{ID: id, Transport: "tcp", State: decode.FlowClosed})
		s.Flow(&decode.Flow{ID: id, Transport: "tcp", State: decode.FlowClosed, PacketsC2S: 2}) // republished
	}
	base, end := s.Base()
	_ = base
	fb, fe := func() (int, int) { _, b := s.Base(); _, e := s.Len(); return b, e }()
	if fe != 20_000 {
		t.Fatalf("flow Len = %d, want 20000 (a republished flow is listed once)", fe)
	}
	if fb == 0 {
		t.Fatal("flows were not evicted past their share of the budget")
	}
	if f := s.FlowByID(20_000); f == nil || f.PacketsC2S != 2 {
		t.Errorf("newest flow: %+v", f)
	}
	if got := s.FlowRange(fb-1, fb+1); len(got) != 2 || got[0] != nil || got[1] == nil {
		t.Errorf("flow range around base: %v", got)
	}
	_ = end
}

func TestSpillBudgetLeavesSummaries(t *testing.T) {
	sp := openSpill(t, 1<<20)
	s := New(Options{Spill: sp})
	body := strings.Repeat("x", 4096)
	for id := uint64(1); id <= 2000; id++ {
		s.Exchange(httpExchange(id, body))
	}
	old := s.ExchangeByID(1)
	if old == nil || !old.Slim || old.Status() != 200 {
		t.Fatalf("an exchange whose spill record was dropped should come back as its summary, got %+v", old)
	}
	if e := s.ExchangeByID(2000); e == nil || e.Slim || len(e.Response.Body) != 4096 {
		t.Fatalf("newest exchange should be whole: %+v", e)
	}
}

// TestConcurrentReadersWhileEvicting runs the UI's reads against the
// decoder's writes with eviction under way; -race checks the locking and
// the aliasing of summary bytes.
func TestConcurrentReadersWhileEvicting(t *testing.T) {
	s := New(Options{Budget: 128 << 10, Spill: openSpill(t, 1<<20)})
	v := s.View()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				base, _ := s.Base()
				end, _ := s.Len()
				for _, e := range s.ExchangeRange(base, min(base+50, end)) {
					if e != nil {
						_ = e.Host() + e.Path()
						if w := s.ExchangeByID(e.ID); w != nil && w.ID != e.ID {
							panic("wrong exchange")
						}
					}
				}
				n := 0
				s.Scan(base, min(base+2000, end), func(_ int, e *decode.Exchange) bool { n += len(e.Path()); return true })
				_ = v.ExchangeRange(0, 10)
				_ = s.Flows()
			}
		}()
	}
	for id := uint64(1); id <= 6_000; id++ {
		e := httpExchange(id, "body")
		if id%3 == 0 {
			p := *e
			p.State, p.Version = decode.Pending, 1
			s.Exchange(&p)
		}
		s.Exchange(e)
		v.Exchange(e)
		s.Flow(&decode.Flow{ID: e.FlowID, Transport: "tcp"})
		if id%2000 == 0 {
			s.Pin(id)
		}
	}
	close(done)
	wg.Wait()
	if base, _ := s.Base(); base == 0 {
		t.Error("nothing was evicted: the test did not read during eviction")
	}
	if e := s.ExchangeByID(2000); e == nil || e.Slim {
		t.Errorf("pinned exchange 2000: %+v", e)
	}
}

// TestHeldSummarySurvivesEviction: a view keeps the exchanges it drew (row
// cache, an open detail) while the store evicts them; summary strings
// alias arena chunks, which must stay intact after the store drops them.
func TestHeldSummarySurvivesEviction(t *testing.T) {
	s := New(Options{Budget: 256 << 10, Spill: openSpill(t, 0)})
	s.Exchange(httpExchange(1, "first"))
	held := s.ExchangeRange(0, 1)[0]
	whole := s.ExchangeByID(1)
	for id := uint64(2); id < 20_000; id++ {
		s.Exchange(httpExchange(id, "later"))
	}
	if base, _ := s.Base(); base == 0 {
		t.Fatal("nothing was evicted")
	}
	runtime.GC()
	if held.Path() != "/items/1" || held.Host() != "api.local" || held.Status() != 200 {
		t.Errorf("held summary changed after eviction: %s %s %d", held.Host(), held.Path(), held.Status())
	}
	if string(whole.Response.Body) != "first" {
		t.Errorf("held whole exchange changed: %q", whole.Response.Body)
	}
	if s.ExchangeByID(1) != nil {
		t.Error("evicted, unpinned exchange still readable by ID")
	}
}

// fullDisk is a spill whose writes fail, as on a full TMPDIR (a real full
// disk cannot be made here without privileges over the test's mounts).
type fullDisk struct{}

func (fullDisk) Put(*decode.Exchange) (spill.Ref, error) {
	return 0, errors.New("write /tmp/tapview-spill-1/seg-00000001: no space left on device")
}
func (fullDisk) Get(spill.Ref) (*decode.Exchange, error) { return nil, spill.ErrGone }

func TestSpillFailureIsSaidOnceAndSummariesStay(t *testing.T) {
	s := New(Options{Spill: fullDisk{}})
	for id := uint64(1); id <= 3; id++ {
		s.Exchange(httpExchange(id, "b"))
	}
	var spillNotes int
	for _, n := range s.Notes() {
		if n.Kind == "spill" {
			spillNotes++
			if !strings.Contains(n.Message, "no space left") || n.Time.IsZero() {
				t.Errorf("spill note: %+v", n)
			}
		}
	}
	if spillNotes != 1 {
		t.Errorf("%d spill notes, want exactly one", spillNotes)
	}
	e := s.ExchangeByID(2)
	if e == nil || !e.Slim || e.Path() != "/items/2" {
		t.Errorf("without a spill the exchange should come back as its summary, got %+v", e)
	}
}
