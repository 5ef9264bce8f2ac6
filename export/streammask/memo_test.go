package streammask

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"github.com/tapview/tapview/decode/mask"
	"testing"
)

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

func response(coding string, body []byte) []byte {
	h := "HTTP/1.1 200 OK\r\n"
	if coding != "" {
		h += "Content-Encoding: " + coding + "\r\n"
	}
	return append([]byte(fmt.Sprintf("%sContent-Length: %d\r\n\r\n", h, len(body))), body...)
}

// TestMemoChangesNothing sends each kind of body the memo answers for
// (gzip with a secret, clean gzip, undecodable gzip, plain text with
// and without a secret) four times on one connection, and checks that
// the connection is masked exactly as each response alone on a tracker
// of its own (which has nothing remembered) is, and that the bodies
// overwritten whole share one filler recipe.
func TestMemoChangesNothing(t *testing.T) {
	pad := bytes.Repeat([]byte("lorem ipsum dolor sit amet "), 20)
	secretJSON := `{"client_secret":"` + sToken + `","pad":"` + string(pad) + `"}`
	resps := [][]byte{
		response("gzip", gzipped(t, secretJSON)),
		response("gzip", gzipped(t, `{"ok":true,"pad":"`+string(pad)+`"}`)),
		response("gzip", append([]byte{0x1f, 0x8b, 8, 0}, pad...)),
		response("", []byte(secretJSON)),
		response("", pad),
	}
	req := []byte("GET /z HTTP/1.1\r\nHost: x\r\n\r\n")
	const repeats = 4
	var want []byte
	changes := []bool{true, false, true, true, false}
	for i, r := range resps {
		h := newHarness(t)
		h.open()
		h.send(0, req, 1460)
		h.send(1, r, 100)
		h.close()
		st, _ := h.masked()
		if changed := !bytes.Equal(st[1], r); changed != changes[i] {
			t.Errorf("response %d alone: changed %v, want %v", i, changed, changes[i])
		}
		for range repeats {
			want = append(want, st[1]...)
		}
	}
	h := newHarness(t)
	h.open()
	for _, r := range resps {
		for range repeats {
			h.send(0, req, 1460)
			h.send(1, r, 100)
		}
	}
	h.close()
	st, _ := h.masked()
	if !bytes.Equal(st[1], want) {
		t.Fatalf("masked with the memo differs from each response masked alone")
	}
	mustHide(t, "responses", st[1], sToken)
	if n := h.res.Stats.Wiped[WhyCompressedSecret]; n != repeats {
		t.Errorf("%d bodies wiped for a secret, want %d", n, repeats)
	}
	if n := h.res.Stats.Wiped[WhyUndecodable]; n != repeats {
		t.Errorf("%d bodies wiped as undecodable, want %d", n, repeats)
	}
	recipes := map[*fillRecipe]int{}
	for _, list := range h.res.halves {
		for _, in := range list {
			for _, p := range in.Patches() {
				if p.fill != nil {
					recipes[p.fill]++
				}
			}
		}
	}
	if len(recipes) != 1 {
		t.Fatalf("%d filler recipes for %d equal bodies, want 1", len(recipes), repeats)
	}
	for r, n := range recipes {
		if n != repeats || !r.share || r.made == nil {
			t.Errorf("recipe used by %d patches, shared %v, bytes kept %v", n, r.share, r.made != nil)
		}
	}
}

// TestMemoBounds checks the memo starts again rather than grow past its
// bounds, and forgets nothing it should not answer.
func TestMemoBounds(t *testing.T) {
	var m memo
	b := make([]byte, memoMaxUnit)
	for i := range memoMaxBytes/memoMaxUnit + 3 {
		b[0] = byte(i)
		if _, hit, again := m.lookup("gzip", b); hit || again {
			t.Fatalf("unit %d: hit %v, seen before %v on first sight", i, hit, again)
		}
		if _, _, again := m.lookup("gzip", b); !again {
			t.Fatalf("unit %d not seen before on second sight", i)
		}
		m.remember("gzip", b, verdict{secret: true, n: i})
		if v, hit, _ := m.lookup("gzip", b); !hit || v.n != i {
			t.Fatalf("unit %d: remembered %v %+v", i, hit, v)
		}
		if m.held > memoMaxBytes {
			t.Fatalf("memo holds %d bytes", m.held)
		}
	}
	if _, hit, _ := m.lookup("deflate", b); hit {
		t.Errorf("a verdict was found under another coding")
	}
	if _, hit, again := m.lookup("gzip", make([]byte, memoMaxUnit+1)); hit || again {
		t.Errorf("a unit over the bound was looked up")
	}
}

// TestMemoRemembersMaskedTexts checks that a text with a secret seen a
// second time is remembered with what the masker made of it, and later
// answered from the memo with the same bytes; a variant of it is
// masked afresh.
func TestMemoRemembersMaskedTexts(t *testing.T) {
	tr := NewTracker(mask.Default())
	text := []byte(`{"user":"bob","client_secret":"` + sToken + `","pad":"lorem ipsum dolor sit amet"}`)
	want := mask.Default().Bytes(text)
	if bytes.Equal(want, text) {
		t.Fatal("the masker finds nothing in the text")
	}
	var got [3][]byte
	for i := range got {
		got[i] = tr.maskText(bytes.Clone(text))
		if !bytes.Equal(got[i], want) {
			t.Fatalf("call %d: %q, want %q", i, got[i], want)
		}
	}
	if &got[2][0] != &got[1][0] {
		t.Errorf("the third call was not answered from the memo")
	}
	variant := bytes.Replace(text, []byte("bob"), []byte("eve"), 1)
	if m := tr.maskText(variant); !bytes.Equal(m, mask.Default().Bytes(variant)) || bytes.Contains(m, []byte(sToken)) {
		t.Errorf("variant: %q", m)
	}
}
