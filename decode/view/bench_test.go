package view

import (
	"bytes"
	"fmt"
	"testing"
)

// bigJSON is about 1 MiB of nested JSON, the decoder's default body cap.
func bigJSON() []byte {
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < 1<<20; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"item %d","tags":["a","b","c"],"price":%d.99,"meta":{"ok":true,"note":null}}`, i, i, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func BenchmarkRenderJSON1MiB(b *testing.B) {
	body := bigJSON()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		Render(JSON, body, 200)
	}
}

func BenchmarkHexDump1MiB(b *testing.B) {
	body := bigJSON()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		HexDump(body, 200)
	}
}

func BenchmarkSanitizeClean(b *testing.B) {
	s := "GET /api/v1/users?page=2&per_page=50 HTTP/1.1"
	for b.Loop() {
		Sanitize(s)
	}
}
