package mask

import (
	"bytes"
	"compress/gzip"
	"reflect"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

// TestBodyMemoSameResult masks messages with clean and secret bodies,
// plain and gzip, repeated (so the memo answers, with clean or with the
// masked body, a copy the caller may change) through
// one scratch, and compares each result with the masker without
// prefilters or memos. The same bytes under other codings, a body that
// differs from a remembered one in its last byte, and a body that cannot
// be decoded must all be checked afresh.
func TestBodyMemoSameResult(t *testing.T) {
	m := Default()
	slow := slowTwin(m)
	zip := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write([]byte(s))
		_ = w.Close()
		return b.Bytes()
	}
	clean := `{"id":7,"items":[{"sku":"a-1","qty":2}],"note":"nothing to hide here"}`
	secret := `{"id":7,"password":"hunter2-hunter2","mail":"bob@example.com"}`
	near := clean[:len(clean)-2] + `"}`
	bodies := []struct {
		codings []string
		data    []byte
	}{
		{nil, []byte(clean)}, {nil, []byte(secret)}, {nil, []byte(near)},
		{[]string{"gzip"}, zip(clean)}, {[]string{"gzip"}, zip(secret)}, {[]string{"gzip"}, zip(near)},
		{[]string{"gzip"}, []byte(clean)},          // not gzip at all: cannot be decoded
		{[]string{"identity"}, zip(secret)},        // the gzip bytes as they are
		{[]string{"gzip"}, zip(clean)[:20]},        // cut short
		{nil, []byte(strings.Repeat("x", 20<<10))}, // over the memo's size
	}
	sc := m.get()
	defer m.put(sc)
	hits, maskedHits := 0, 0
	for round := 0; round < 3; round++ {
		for i, b := range bodies {
			msg := &decode.Message{Method: "POST", Target: "/x", Proto: "HTTP/1.1", Body: b.data,
				BodySize: int64(len(b.data)), ContentEncoding: b.codings,
				Headers: []decode.Header{{Name: "Content-Type", Value: "application/json"}}}
			if j, h := sc.bodies.index(b.data); j >= 0 && sc.bodies.clean(j, h, b.codings, b.data) {
				hits++
				if i == 1 || i == 4 {
					t.Fatalf("round %d: body %d holds secrets but is remembered as clean", round, i)
				}
			}
			if j, h := sc.bodies.index(b.data); j >= 0 {
				if s := sc.bodies.lookup(j, h, b.codings, b.data); s != nil && s.dirty {
					maskedHits++
				}
			}
			got, want := m.message(sc, msg), slow.Exchange(&decode.Exchange{Request: msg}).Request
			if !reflect.DeepEqual(got, want) || (got == msg) != (want == msg) {
				t.Fatalf("round %d, body %d: memo gives %+v, full check %+v", round, i, got, want)
			}
			if got != msg && len(got.Body) > 0 {
				got.Body[0] ^= 0xff // each masked copy is the caller's: this must not reach the next round
			}
		}
	}
	if hits < 4*2 {
		t.Errorf("%d answers from the memo, want at least 8 (the clean and near-clean bodies, plain and gzip, in rounds 2 and 3)", hits)
	}
	if maskedHits < 2*2 {
		t.Errorf("%d masked bodies from the memo, want at least 4 (the secret body, plain and gzip, in rounds 2 and 3)", maskedHits)
	}
}
