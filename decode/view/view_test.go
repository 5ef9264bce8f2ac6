package view

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name.golden, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from golden:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		ct   string
		body string
		want Kind
	}{
		{"application/json", `{"a":1}`, JSON},
		{"application/problem+json", `{"a":1}`, JSON},
		{"Application/JSON; charset=utf-8", `{}`, JSON},
		{"application/x-www-form-urlencoded", "a=1&b=2", Form},
		{"text/html", "<html></html>", HTML},
		{"application/xml", "<a/>", XML},
		{"application/soap+xml", "<a/>", XML},
		{"application/grpc", "\x08\x01", Protobuf},
		{"application/x-protobuf", "\x08\x01", Protobuf},
		{"text/plain", "hello", Text},
		{"text/plain", "\x00\x01\x02\xff", Hex},
		{"application/json", "\x1f\x8b\x08\x00", Hex},
		{"", `  [1, 2, 3]`, JSON},
		{"", "<!DOCTYPE html><html>", HTML},
		{"", "<?xml version=\"1.0\"?><a/>", XML},
		{"", "just words", Text},
		{"", "\x08\x96\x01", Protobuf},
		{"", "\xff\xfe\xfd\x00", Hex},
		{"application/octet-stream", "\x00\x00\xff", Hex},
		{"", "", Text},
	}
	for _, c := range cases {
		if got := Detect(c.ct, []byte(c.body)); got != c.want {
			t.Errorf("Detect(%q, %q) = %v, want %v", c.ct, c.body, got, c.want)
		}
	}
}

func TestRenderGolden(t *testing.T) {
	msg := protowire.AppendTag(nil, 1, protowire.VarintType)
	msg = protowire.AppendVarint(msg, 150)
	msg = protowire.AppendTag(msg, 2, protowire.BytesType)
	msg = protowire.AppendString(msg, "hello \"proto\"")
	inner := protowire.AppendTag(nil, 1, protowire.VarintType)
	inner = protowire.AppendVarint(inner, 7)
	inner = protowire.AppendTag(inner, 2, protowire.Fixed32Type)
	inner = protowire.AppendFixed32(inner, 0x40490fdb) // float pi
	msg = protowire.AppendTag(msg, 3, protowire.BytesType)
	msg = protowire.AppendBytes(msg, inner)
	msg = protowire.AppendTag(msg, 4, protowire.Fixed64Type)
	msg = protowire.AppendFixed64(msg, 0x3ff8000000000000) // 1.5
	msg = protowire.AppendTag(msg, 5, protowire.VarintType)
	msg = protowire.AppendVarint(msg, ^uint64(0)) // -1 as int64
	msg = protowire.AppendTag(msg, 6, protowire.BytesType)
	msg = protowire.AppendBytes(msg, []byte{0xff, 0x00, 0x22})
	msg = protowire.AppendTag(msg, 7, protowire.StartGroupType)
	msg = protowire.AppendTag(msg, 1, protowire.VarintType)
	msg = protowire.AppendVarint(msg, 1)
	msg = protowire.AppendTag(msg, 7, protowire.EndGroupType)
	msg = protowire.AppendTag(msg, 8, protowire.BytesType)
	msg = protowire.AppendBytes(msg, nil)

	cases := []struct {
		name  string
		kind  Kind
		body  string
		width int
	}{
		{"json", JSON, `{"user":{"name":"Ada","tags":["a","b"],"empty":{},"none":[]},"zeta":1.50e3,"alpha":null,"esc":"line\nnext \u001b[31m","ok":true}`, 0},
		{"json_ndjson", JSON, "{\"a\":1}\n{\"b\":[true,false]}\n", 0},
		{"json_wrapped", JSON, `{"token":"` + strings.Repeat("abcdefghij", 5) + `"}`, 30},
		{"json_invalid_falls_back", JSON, `{"a": 1,, }`, 0},
		{"form", Form, "user=ada+lovelace&pass=s%33cret&empty=&flag&bad=%zz&nl=a%0Ab", 0},
		{"xml", XML, `<?xml version="1.0"?><root a="1"><item id="x">one</item><item>two<sub/></item><!-- note --><empty></empty></root>`, 0},
		{"html_broken", HTML, "<!DOCTYPE html><html><head><meta charset=utf-8><title>T</title><style>b{color:red}</style></head><body><p>para<br>more<div class=\"x>y\">in</div></span>a < b<script>if (a<b) {}</script></body>", 0},
		{"text", Text, "one\ttab\r\nterm \x1b[2Jclear\n", 0},
		{"protobuf", Protobuf, string(msg), 0},
		{"hex", Hex, "GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01\xff", 0},
		{"hex_narrow", Hex, "0123456789abcdefXYZ", 40},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines, used := Render(c.kind, []byte(c.body), c.width)
			for _, l := range lines {
				if !safeForTerminal(l) {
					t.Errorf("line not terminal-safe: %q", l)
				}
			}
			golden(t, "render_"+c.name, "kind: "+used.String()+"\n"+strings.Join(lines, "\n")+"\n")
		})
	}
}

func TestRenderFallback(t *testing.T) {
	if _, used := Render(JSON, []byte("not json"), 0); used != Text {
		t.Errorf("invalid JSON rendered as %v, want text", used)
	}
	if _, used := Render(JSON, []byte{0, 1, 2, 0xff}, 0); used != Hex {
		t.Errorf("binary as JSON rendered as %v, want hex", used)
	}
	if _, used := Render(Protobuf, []byte{0x07}, 0); used != Hex {
		t.Errorf("bad protobuf rendered as %v, want hex", used)
	}
}

func TestJSONKeepsKeyOrderAndDepthBound(t *testing.T) {
	lines, ok := prettyJSON([]byte(`{"z":1,"a":2,"z":3}`), -1)
	if !ok || strings.Join(lines, "|") != `{|  "z": 1,|  "a": 2,|  "z": 3|}` {
		t.Errorf("got %q ok=%v", lines, ok)
	}
	deep := strings.Repeat("[", maxJSONDepth+10) + strings.Repeat("]", maxJSONDepth+10)
	if _, ok := prettyJSON([]byte(deep), -1); ok {
		t.Error("nesting beyond the bound accepted")
	}
}

func TestWrap(t *testing.T) {
	got := Wrap("    key: "+strings.Repeat("x", 20), 16)
	want := []string{"    key: xxxxxxx", "    xxxxxxxxxxxx", "    x"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Wrap = %q, want %q", got, want)
	}
	// Wide characters never straddle the edge.
	for _, l := range Wrap(strings.Repeat("日本", 10), 7) {
		if w := len([]rune(l)) * 2; w > 7 {
			t.Errorf("piece %q is %d cells wide", l, w)
		}
	}
	if got := Wrap("short", 0); len(got) != 1 || got[0] != "short" {
		t.Errorf("width 0 changed the line: %q", got)
	}
}
