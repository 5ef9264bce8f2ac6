package jsonl

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAppendMillis compares appendMillis with the float formatting it
// replaces on edge values and a million random durations of every
// magnitude.
func TestAppendMillis(t *testing.T) {
	vals := []int64{0, 1, -1, 9, 10, 100, 999, 1000, 1001, 1010, 1100, 12404, -12404, 999999,
		1e15 - 1, -(1e15 - 1), 1e15, -1e15, 1e18, -1e18, 1<<63 - 1, -1 << 63}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000000 {
		v := r.Int64N(1 << uint(r.IntN(62)+1))
		if r.IntN(4) == 0 {
			v = -v
		}
		vals = append(vals, v)
	}
	for _, us := range vals {
		want := strconv.AppendFloat(nil, float64(us)/1000, 'f', -1, 64)
		if got := appendMillis(nil, us); string(got) != string(want) {
			t.Fatalf("%d us: %q, want %q", us, got, want)
		}
	}
}

func TestTrimSpaceTab(t *testing.T) {
	for _, s := range []string{"", " ", "\t", " \t a b \t ", "a", "application/json", "\ttext/html ", " \r x\r "} {
		if got, want := trimSpaceTab(s), strings.Trim(s, " \t"); got != want {
			t.Errorf("%q: %q, want %q", s, got, want)
		}
	}
}

// TestAppendTimeUTC compares appendTimeUTC with AppendFormat on edge
// times, zones other than UTC and random instants from year -100 to
// 10100 with every number of fraction digits.
func TestAppendTimeUTC(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	ts := []time.Time{
		time.Unix(0, 0), time.Unix(0, 1), time.Unix(0, 100), time.Unix(1765085751, 586986000),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 12, 31, 23, 59, 59, 5, time.UTC),
		time.Date(2026, 12, 7, 0, 30, 0, 120000000, cet),
	}
	r := rand.New(rand.NewPCG(3, 4))
	lo := time.Date(-100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(10100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for range 200000 {
		ns := r.Int64N(1e9)
		ns -= ns % []int64{1, 10, 1000, 1e6, 1e9}[r.IntN(5)]
		ts = append(ts, time.Unix(lo+r.Int64N(hi-lo), ns).In([]*time.Location{time.UTC, cet}[r.IntN(2)]))
	}
	for _, tm := range ts {
		want := tm.UTC().AppendFormat(nil, time.RFC3339Nano)
		if got := appendTimeUTC(nil, tm); string(got) != string(want) {
			t.Fatalf("%v: %q, want %q", tm, got, want)
		}
	}
}
