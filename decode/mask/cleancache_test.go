package mask

import (
	"fmt"
	"testing"
)

// TestCleanCacheSameResult masks header fields many times over through
// one scratch (so the memo of clean fields answers the repeats) and
// compares every answer with the masker without prefilters or memo:
// clean fields repeated, secret fields repeated, fields that differ from
// a remembered one by a byte of name or value, and enough distinct
// fields to evict and collide.
func TestCleanCacheSameResult(t *testing.T) {
	m := Default()
	slow := slowTwin(m)
	fields := [][2]string{
		{"User-Agent", "wrk/4.1"}, {"Accept", "application/json"}, {"Host", "127.0.0.1:18080"},
		{"Authorization", "Bearer abc.def.ghi"}, {"authorization", "Bearer abc.def.ghi"},
		{"X-Note", "mail bob@example.com now"}, {"X-Note", "mail bob@example.co now"},
		{"X-Nots", "mail bob@example.com now"}, {"Cookie", "session=abcdef; theme=dark"},
		{"X-Card", "4111 1111 1111 1111"}, {"X-Card", "4111 1111 1111 1112"},
		{"X-Long", fmt.Sprintf("%0200d", 7)}, {"", "empty name"}, {"X-Empty", ""},
		{"X-Path", "/login?password=hunter2"}, {"X-Path", "/login?passwort=hunter2"}, {"X-Path", "/api/orders/2.json?x=1"},
		{"Referer", "https://u:pw@example.com/"}, {"X-Token", "token=abcdefghijklmnop"},
	}
	for i := 0; i < 300; i++ {
		fields = append(fields, [2]string{fmt.Sprintf("X-H%d", i%37), fmt.Sprintf("v%d", i%150)})
	}
	sc := m.get()
	defer m.put(sc)
	ssc := slow.get()
	defer slow.put(ssc)
	hits := 0
	for round := 0; round < 3; round++ {
		for _, f := range fields {
			if cacheable(f[0], f[1]) && sc.clean.hit(sc.clean.index(cleanHeader, f[0], f[1]), cleanHeader, f[0], f[1]) {
				hits++
			}
			got, gotChanged := m.header(sc, f[0], f[1])
			want, wantChanged := slow.header(ssc, f[0], f[1])
			if got != want || gotChanged != wantChanged {
				t.Fatalf("round %d, %s: %q: memo says %q (changed %v), full check %q (changed %v)",
					round, f[0], f[1], got, gotChanged, want, wantChanged)
			}
			// The same value as a request target: a clean header
			// value must not make a target clean, nor the reverse.
			got, gotChanged = m.target(sc, f[1])
			want, wantChanged = slow.text(ssc, f[1])
			if got != want || gotChanged != wantChanged {
				t.Fatalf("round %d, target %q: memo says %q (changed %v), full check %q (changed %v)",
					round, f[1], got, gotChanged, want, wantChanged)
			}
		}
	}
	if hits == 0 {
		t.Fatal("the memo never answered a repeated clean field")
	}
	i := sc.clean.index(cleanHeader, "X-Note", "mail bob@example.com now")
	if sc.clean.hit(i, cleanHeader, "X-Note", "mail bob@example.com now") {
		t.Fatal("a field that was masked is remembered as clean")
	}
}
