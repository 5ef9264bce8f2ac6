package view

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func TestDecodeRawProtobufRejects(t *testing.T) {
	bad := map[string][]byte{
		"field zero":        {0x00, 0x01},
		"wire type 6":       {0x0e},
		"short fixed64":     {0x09, 0x01, 0x02},
		"length past end":   {0x0a, 0x05, 'a'},
		"unended group":     {0x0b, 0x08, 0x01},
		"stray end group":   {0x0c},
		"mismatched group":  {0x0b, 0x14},
		"truncated varint":  {0x08, 0x80},
		"overlong varint":   {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"plain text":        []byte("hello, world"),
		"json":              []byte(`{"a":1}`),
		"truncated tag len": {0x0a},
	}
	for name, b := range bad {
		if lines, ok := DecodeRawProtobuf(b); ok {
			t.Errorf("%s: accepted as %q", name, lines)
		}
	}
	if lines, ok := DecodeRawProtobuf(nil); !ok || len(lines) != 0 {
		t.Errorf("empty message: ok=%v lines=%q", ok, lines)
	}
}

func TestDecodeRawProtobufDepthBound(t *testing.T) {
	// Nest far deeper than the bound; the innermost levels must become
	// bytes instead of recursing without limit.
	msg := protowire.AppendTag(nil, 1, protowire.VarintType)
	msg = protowire.AppendVarint(msg, 1)
	for i := 0; i < maxProtoDepth*3; i++ {
		outer := protowire.AppendTag(nil, 2, protowire.BytesType)
		msg = protowire.AppendBytes(outer, msg)
	}
	lines, ok := DecodeRawProtobuf(msg)
	if !ok {
		t.Fatal("nested message rejected")
	}
	opens := 0
	for _, l := range lines {
		if len(l) > 0 && l[len(l)-1] == '{' {
			opens++
		}
	}
	if opens == 0 || opens > maxProtoDepth+1 {
		t.Errorf("%d nested levels shown, want 1..%d", opens, maxProtoDepth+1)
	}
}

func FuzzDecodeRawProtobuf(f *testing.F) {
	seed := protowire.AppendTag(nil, 1, protowire.BytesType)
	seed = protowire.AppendString(seed, "x")
	f.Add(seed)
	f.Add([]byte{0x08, 0x96, 0x01})
	f.Add([]byte{0x0b, 0x08, 0x01, 0x0c})
	f.Add([]byte{0x0a, 0x02, 0x08, 0x01, 0x15, 0xdb, 0x0f, 0x49, 0x40})
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, ok := DecodeRawProtobuf(b)
		if !ok && lines != nil {
			t.Fatal("lines returned with ok=false")
		}
		for _, l := range lines {
			if !safeForTerminal(l) {
				t.Fatalf("unsafe line %q", l)
			}
		}
	})
}

func FuzzRender(f *testing.F) {
	f.Add(uint8(JSON), []byte(`{"a":[1,{"b":null}]}`), 40)
	f.Add(uint8(HTML), []byte(`<p a='>'>x<br></p><script>a<b</script>`), 20)
	f.Add(uint8(Form), []byte("a=%41&b"), 0)
	f.Add(uint8(Text), []byte("\x1b[31m\t\xff"), 5)
	f.Fuzz(func(t *testing.T, k uint8, body []byte, width int) {
		kind := Kinds()[int(k)%len(Kinds())]
		width %= 300
		lines, _ := Render(kind, body, width)
		for _, l := range lines {
			if !safeForTerminal(l) {
				t.Fatalf("unsafe line %q", l)
			}
		}
	})
}
