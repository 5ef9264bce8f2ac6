package jsonl

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/mask"
)

// TestContentTypeMatchesMessage checks the allocation-free content type
// against decode.Message.ContentType for awkward values.
func TestContentTypeMatchesMessage(t *testing.T) {
	for _, v := range []string{"", "application/json", "Application/JSON; Charset=UTF-8", " \tText/HTML \t; x", ";",
		"A\"B\\C", "X\x01Y", "\xffBAD", "Ü/ÄB", "a\u2028B", " ", "TEXT/PLAIN;"} {
		m := &decode.Message{Headers: []decode.Header{{Name: "Content-Type", Value: v}}}
		want := optStr(nil, "k", m.ContentType())
		if got := contentType(nil, "k", m); !bytes.Equal(got, want) {
			t.Errorf("%q: got %s, want %s", v, got, want)
		}
	}
	if got := contentType(nil, "k", &decode.Message{}); len(got) != 0 {
		t.Errorf("no header: got %s", got)
	}
}

func TestAddrFieldMatchesString(t *testing.T) {
	for _, a := range []netip.AddrPort{
		{}, netip.MustParseAddrPort("10.0.0.1:51000"), netip.MustParseAddrPort("[::1]:8080"),
		netip.AddrPortFrom(netip.MustParseAddr("fe80::1").WithZone("eth0"), 1),
		netip.AddrPortFrom(netip.MustParseAddr("fe80::1").WithZone("we\"ird\\\x01ü"), 2),
	} {
		want := []byte(nil)
		if a.IsValid() {
			want = str(nil, "k", a.String())
		}
		if got := addrField(nil, "k", a); !bytes.Equal(got, want) {
			t.Errorf("%v: got %s, want %s", a, got, want)
		}
	}
}

func TestAppendExchangeAllocs(t *testing.T) {
	e := sample()
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = AppendExchange(buf[:0], e) }); n != 0 {
		t.Errorf("%v allocations per exchange, want 0", n)
	}
}

// BenchmarkWriterExchange is one exchange through a masking Writer, as
// in `tapview open -o json`: filter-less, masked, no bodies printed.
func BenchmarkWriterExchange(b *testing.B) {
	xs := plantedExchanges(b)
	e := xs[1]
	var out bytes.Buffer
	w := NewWriter(&out, Options{Mask: mask.Default().Exchange})
	b.ReportAllocs()
	for b.Loop() {
		w.Exchange(e)
		if out.Len() > 1<<20 {
			out.Reset()
		}
	}
}
