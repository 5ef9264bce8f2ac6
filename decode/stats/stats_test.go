package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/filter"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// ex is a final HTTP exchange with a latency and body sizes.
func ex(id uint64, target string, status int, lat time.Duration, in, out int64) *decode.Exchange {
	return &decode.Exchange{
		ID: id, Proto: "http/1.1", State: decode.Complete, Start: t0,
		Request:  &decode.Message{Method: "GET", Target: target, Host: "api", First: t0, BodySize: in, DecodedSize: in},
		Response: &decode.Message{Status: status, Last: t0.Add(lat), BodySize: out, DecodedSize: out},
	}
}

func TestAddCountsFinalOnce(t *testing.T) {
	tb, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := ex(1, "/pets/1", 200, time.Millisecond, 10, 20)
	p.State = decode.Pending
	if tb.Add(p) {
		t.Error("a pending exchange was counted")
	}
	f := *p
	f.State, f.Version = decode.Complete, 2
	if !tb.Add(&f) {
		t.Error("the final version was not counted")
	}
	tb.Add(ex(2, "/pets/2", 503, 3*time.Millisecond, 1, 2))
	tb.Add(ex(3, "/pets/3", 404, 2*time.Millisecond, 0, 5))
	tb.Add(ex(4, "/owners/3", 200, time.Second, 0, 0))
	noTime := ex(5, "/pets/5", 200, time.Second, 0, 0)
	noTime.Response.Last = time.Time{} // a side without times: counted, no latency
	tb.Add(noTime)
	rows := tb.Rows()
	if len(rows) != 2 {
		t.Fatalf("got %d groups, want 2: %+v", len(rows), rows)
	}
	r := rows[0]
	if r.Name() != "api GET /pets/{id}" || r.Count != 4 || r.Errors != 1 || r.BytesIn != 11 || r.BytesOut != 27 {
		t.Errorf("pets group = %+v", r)
	}
	if math.Abs(r.ErrorRate-1.0/4) > 1e-9 {
		t.Errorf("error rate %v", r.ErrorRate)
	}
	l := r.Latency
	if !l.Exact || l.Samples != 3 || l.P50 != 2*time.Millisecond || l.P90 != 3*time.Millisecond || l.Max != 3*time.Millisecond {
		t.Errorf("latency %+v", l)
	}
}

func TestFailed(t *testing.T) {
	for _, c := range []struct {
		name string
		e    decode.Exchange
		want bool
	}{
		{"200", decode.Exchange{State: decode.Complete, Response: &decode.Message{Status: 200}}, false},
		{"404 is the client's", decode.Exchange{State: decode.Complete, Response: &decode.Message{Status: 404}}, false},
		{"500", decode.Exchange{State: decode.Complete, Response: &decode.Message{Status: 500}}, true},
		{"reset", decode.Exchange{State: decode.Reset}, true},
		{"partial", decode.Exchange{State: decode.Partial, Response: &decode.Message{Status: 200}}, true},
		{"orphan", decode.Exchange{State: decode.Orphan}, false},
		{"grpc ok", decode.Exchange{State: decode.Complete, GRPC: &decode.GRPCInfo{Status: 0}, Response: &decode.Message{Status: 200}}, false},
		{"grpc unseen", decode.Exchange{State: decode.Complete, GRPC: &decode.GRPCInfo{Status: -1}}, false},
		{"grpc 14", decode.Exchange{State: decode.Complete, GRPC: &decode.GRPCInfo{Status: 14}, Response: &decode.Message{Status: 200}}, true},
		{"nxdomain", decode.Exchange{State: decode.Complete, DNS: &decode.DNSInfo{Rcode: "NXDOMAIN"}}, true},
		{"noerror", decode.Exchange{State: decode.Complete, DNS: &decode.DNSInfo{Rcode: "NOERROR"}}, false},
		{"dns unanswered", decode.Exchange{State: decode.Orphan, DNS: &decode.DNSInfo{}}, false},
		{"redis error", decode.Exchange{State: decode.Complete, Query: &decode.QueryInfo{ReplyError: "WRONGTYPE x"}}, true},
		{"sql ok", decode.Exchange{State: decode.Complete, Query: &decode.QueryInfo{Rows: 3}}, false},
	} {
		if got := Failed(&c.e); got != c.want {
			t.Errorf("%s: Failed = %v", c.name, got)
		}
	}
}

func TestByVariables(t *testing.T) {
	tb, err := New(Options{By: []string{"status", "namespace"}})
	if err != nil {
		t.Fatal(err)
	}
	a := ex(1, "/a", 200, time.Millisecond, 0, 0)
	a.Namespace = "shop"
	tb.Add(a)
	tb.Add(ex(2, "/b", 200, time.Millisecond, 0, 0))
	tb.Add(ex(3, "/c", 500, time.Millisecond, 0, 0))
	var names []string
	for _, r := range tb.Rows() {
		names = append(names, r.Name())
	}
	if want := []string{"200 · shop", "200 · -", "500 · -"}; !slices.Equal(names, want) {
		t.Errorf("groups %q, want %q", names, want)
	}
	for _, bad := range [][]string{{"nosuch"}, {"req_headers"}, {"status", "status"}} {
		if _, err := New(Options{By: bad}); err == nil {
			t.Errorf("By %q accepted", bad)
		}
	}
}

func TestMatchAndMaxGroups(t *testing.T) {
	tb, _ := New(Options{MaxGroups: 2, Match: func(e *decode.Exchange) bool { return e.Status() != 204 }})
	tb.Add(ex(1, "/a", 200, 0, 0, 0))
	tb.Add(ex(2, "/b", 200, 0, 0, 0))
	tb.Add(ex(3, "/c", 200, 0, 0, 0))
	tb.Add(ex(4, "/d", 200, 0, 0, 0))
	if tb.Add(ex(5, "/e", 204, 0, 0, 0)) {
		t.Error("an exchange the filter rejects was counted")
	}
	rows := tb.Rows()
	if len(rows) != 3 || rows[2].Values[0] != Other || rows[2].Count != 2 {
		t.Errorf("rows %+v", rows)
	}
}

// TestSketchError checks the bounded percentiles against exact ones on
// a spread of latencies: within the stated 1%.
func TestSketchError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	exact, _ := New(Options{})
	sk, _ := New(Options{ExactPerGroup: 1000})
	for i := range 50_000 {
		d := time.Duration(math.Exp(r.NormFloat64()*2 + 14)) // ~1ms, wide
		if i%100 == 0 {
			d = 0
		}
		e := ex(uint64(i), "/x", 200, d, 0, 0)
		exact.Add(e)
		sk.Add(e)
	}
	a, b := exact.Rows()[0].Latency, sk.Rows()[0].Latency
	if !a.Exact || b.Exact || a.Samples != b.Samples || a.Max != b.Max {
		t.Fatalf("exact %+v sketch %+v", a, b)
	}
	for _, pair := range [][2]time.Duration{{a.P50, b.P50}, {a.P90, b.P90}, {a.P99, b.P99}} {
		if rel := math.Abs(float64(pair[1]-pair[0])) / float64(pair[0]); rel > maxBucketErr {
			t.Errorf("sketch %v vs exact %v: %.3f%% off", pair[1], pair[0], rel*100)
		}
	}
}

// TestExactTotal checks the table-wide bound: once it is reached, the
// growing group is sketched and its samples freed.
func TestExactTotal(t *testing.T) {
	tb, _ := New(Options{ExactTotal: 100})
	for i := range 300 {
		tb.Add(ex(uint64(i), "/g"+string(rune('a'+i%3)), 200, time.Duration(i+1)*time.Microsecond, 0, 0))
	}
	if tb.exact > 100 {
		t.Errorf("%d exact samples held, bound 100", tb.exact)
	}
	sketched := 0
	for _, r := range tb.Rows() {
		if !r.Latency.Exact {
			sketched++
		}
		if r.Latency.Samples != 100 {
			t.Errorf("group %s has %d samples", r.Name(), r.Latency.Samples)
		}
	}
	if sketched == 0 {
		t.Error("no group was sketched")
	}
}

func TestRank(t *testing.T) {
	for _, c := range []struct {
		q, n int64
		want int
	}{{50, 1, 0}, {90, 10, 8}, {99, 100, 98}, {50, 4, 1}, {99, 1000, 989}} {
		if got := rank(c.q, c.n); got != c.want {
			t.Errorf("rank(%d, %d) = %d, want %d", c.q, c.n, got, c.want)
		}
	}
}

func TestSortRows(t *testing.T) {
	rows := []Row{{Values: []string{"b"}, Count: 1}, {Values: []string{"a"}, Count: 3}, {Values: []string{"c"}, Count: 2}}
	if err := SortRows(rows, "count", true); err != nil || rows[0].Count != 3 || rows[2].Count != 1 {
		t.Errorf("by count: %v %+v", err, rows)
	}
	if err := SortRows(rows, "group", false); err != nil || rows[0].Name() != "a" {
		t.Errorf("by group: %v %+v", err, rows)
	}
	if SortRows(rows, "nope", false) == nil {
		t.Error("unknown column accepted")
	}
}

// TestIncrementalPercentiles reads the percentiles between additions, as
// a live view does, and compares them with a sort of everything.
func TestIncrementalPercentiles(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tb, _ := New(Options{})
	var all []time.Duration
	for round := range 20 {
		for range 1 + r.IntN(200) {
			d := time.Duration(1 + r.IntN(1_000_000))
			all = append(all, d)
			tb.Add(ex(uint64(len(all)), "/x", 200, d, 0, 0))
		}
		got := tb.Rows()[0].Latency
		s := slices.Clone(all)
		slices.Sort(s)
		n := int64(len(s))
		if got.P50 != s[rank(50, n)] || got.P90 != s[rank(90, n)] || got.P99 != s[rank(99, n)] || got.Max != s[n-1] {
			t.Fatalf("round %d: %+v, sorted says p50 %v p90 %v p99 %v", round, got, s[rank(50, n)], s[rank(90, n)], s[rank(99, n)])
		}
		if again := tb.Rows()[0].Latency; again != got {
			t.Fatalf("cached figures differ: %+v %+v", again, got)
		}
	}
}

// TestRouteFilterSelectsGroup checks the promise the UI's Enter relies
// on: the filter route == "<a group's route>" matches exactly the
// exchanges counted in that group, escaped and cut routes included.
func TestRouteFilterSelectsGroup(t *testing.T) {
	long := "/search/" + strings.Repeat("q", 300)
	targets := []string{"/pets/1", "/pets/2?x=1", "/pets", "/a\x1b]0;x\x07/b", long + "a", long + "b", "/u/550e8400-e29b-41d4-a716-446655440000"}
	var exs []*decode.Exchange
	for i, tg := range targets {
		exs = append(exs, ex(uint64(i), tg, 200, time.Millisecond, 0, 0))
	}
	tab, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range exs {
		tab.Add(e)
	}
	rows := tab.Rows()
	if len(rows) != 5 {
		t.Fatalf("%d groups, want 5 (pets/{id}, pets, the escaped one, the cut one, uuid)", len(rows))
	}
	for _, r := range rows {
		prog, err := filter.Compile("route == " + strconv.Quote(r.Values[0]))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range exs {
			if prog.Match(e) {
				n++
				if tab.Key(e) != r.Key {
					t.Errorf("route == %q matched %q of another group", r.Values[0], e.Path())
				}
			}
		}
		if int64(n) != r.Count {
			t.Errorf("route == %q matched %d, the group counts %d", r.Values[0], n, r.Count)
		}
	}
}
