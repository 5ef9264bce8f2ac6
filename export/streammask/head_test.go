package streammask

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// parseHeadAll is parseHead as it was before it kept only the fields
// the walk reads: every field, lower-cased and trimmed.
func parseHeadAll(b []byte) *httpHead {
	hd := &httpHead{}
	for i, l := range bytes.Split(b, []byte("\n")) {
		l = bytes.TrimRight(l, "\r")
		if i == 0 {
			words := strings.Fields(string(l))
			if len(words) > 0 {
				hd.first = words[0]
			}
			if len(words) > 1 && strings.HasPrefix(hd.first, "HTTP/") {
				hd.status, _ = strconv.Atoi(words[1])
			}
			continue
		}
		k := bytes.IndexByte(l, ':')
		if k <= 0 {
			continue
		}
		hd.fields = append(hd.fields, [2]string{strings.ToLower(strings.TrimSpace(string(l[:k]))), strings.TrimSpace(string(l[k+1:]))})
	}
	return hd
}

// FuzzParseHead checks that parseHead reads every field the walk asks
// for (get, has) exactly as parsing every field does.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUPGRADE:  websocket \r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
		"HTTP/1.0 101\nupgrade: h2c\n content-encoding : gzip, br\r\r\n\n",
		"POST / HTTP/1.1\r\nSec-WebSoc\u212aet-Extensions: x\r\nContent-Length: 1\r\ncontent-length: 2\r\n\xff: y\r\n: z\r\n\r\n",
		"", "\n", "HTTP/1.1 abc", "x\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, want := parseHead(b), parseHeadAll(b)
		if got.first != want.first || got.status != want.status {
			t.Fatalf("first %q %d, want %q %d", got.first, got.status, want.first, want.status)
		}
		for _, name := range headFields {
			if g, w := got.get(name), want.get(name); g != w {
				t.Fatalf("%s: %q, want %q", name, g, w)
			}
			for _, tok := range []string{"upgrade", "keep-alive", "close"} {
				if got.has(name, tok) != want.has(name, tok) {
					t.Fatalf("has(%s, %s) differs", name, tok)
				}
			}
		}
		var kept [][2]string
		for _, fl := range want.fields {
			for _, name := range headFields {
				if fl[0] == name {
					kept = append(kept, fl)
				}
			}
		}
		if !reflect.DeepEqual(got.fields, kept) {
			t.Fatalf("fields %q, want %q", got.fields, kept)
		}
	})
}
