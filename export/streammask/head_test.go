package streammask

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// refHead is parseHead as it was before it kept only the fields the
// walk reads and stopped allocating: every field, lower-cased and
// trimmed, as strings.
type refHead struct {
	first  string
	status int
	fields [][2]string
}

func parseHeadAll(b []byte) *refHead {
	hd := &refHead{}
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

func (hd *refHead) get(name string) string {
	var out []string
	for _, f := range hd.fields {
		if f[0] == name {
			out = append(out, f[1])
		}
	}
	return strings.Join(out, ", ")
}

func (hd *refHead) has(name, token string) bool {
	for _, t := range strings.Split(hd.get(name), ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

// checkHead compares parseHead (into the reused got) with the
// reference on b, for everything the walk reads.
func checkHead(t *testing.T, got *httpHead, b []byte) {
	t.Helper()
	parseHead(got, b)
	want := parseHeadAll(b)
	if string(got.first) != want.first || got.status != want.status || got.method() != want.first {
		t.Fatalf("%q: first %q %d, want %q %d", b, got.first, got.status, want.first, want.status)
	}
	for _, name := range headFields {
		if g, w := string(got.get(name)), want.get(name); g != w {
			t.Fatalf("%q: %s: %q, want %q", b, name, g, w)
		}
		if g, w := got.get(name) != nil, want.get(name) != "" || slices.ContainsFunc(want.fields, func(f [2]string) bool { return f[0] == name }); g != w {
			t.Fatalf("%q: %s present %v, want %v", b, name, g, w)
		}
		for _, tok := range []string{"upgrade", "keep-alive", "close", "chunked"} {
			if got.has(name, tok) != want.has(name, tok) {
				t.Fatalf("%q: has(%s, %s) differs", b, name, tok)
			}
		}
	}
	if g, w := containsFold(got.get("transfer-encoding"), "chunked"), strings.Contains(strings.ToLower(want.get("transfer-encoding")), "chunked"); g != w {
		t.Fatalf("%q: chunked %v, want %v", b, g, w)
	}
	cl := strings.TrimSpace(want.get("content-length"))
	gn, gerr := parseLength(bytes.TrimSpace(got.get("content-length")))
	wn, werr := strconv.ParseInt(cl, 10, 64)
	if cl != "" && (gn != wn || (gerr == nil) != (werr == nil)) {
		t.Fatalf("%q: content-length %d %v, want %d %v", b, gn, gerr, wn, werr)
	}
	var kept [][2]string
	for _, fl := range want.fields {
		for _, name := range headFields {
			if fl[0] == name {
				kept = append(kept, fl)
			}
		}
	}
	if len(got.fields) != len(kept) {
		t.Fatalf("%q: %d fields, want %d", b, len(got.fields), len(kept))
	}
	for i, f := range got.fields {
		if f.name != kept[i][0] || string(f.value) != kept[i][1] {
			t.Fatalf("%q: field %d %s=%q, want %q", b, i, f.name, f.value, kept[i])
		}
	}
}

// headCases are odd heads: folded lines, bare LF, non-ASCII names and
// spaces, empty and repeated values, signs and overflowing numbers.
var headCases = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUPGRADE:  websocket \r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
	"HTTP/1.0 101\nupgrade: h2c\n content-encoding : gzip, br\r\r\n\n",
	"POST / HTTP/1.1\r\nSec-WebSoc\u212aet-Extensions: x\r\nContent-Length: 1\r\ncontent-length: 2\r\n\xff: y\r\n: z\r\n\r\n",
	"", "\n", "HTTP/1.1 abc", "x\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,\r\n  chunked\r\nContent-Length:\r\nConnection:\r\nConnection: \r\n\r\n",
	"HTTP/1.1\u00a0200 OK\r\nContent-Length: +7\r\n\r\n",
	"HTTP/1.1\u0085404\r\nContent-Length: 99999999999999999999\r\n\r\n",
	"HTTP/1.1 99999999999999999999 Big\r\nContent-Length: 0012\r\n\r\n",
	"HTTP/1.1 -5 Neg\r\nTransfer-Encoding: CHUN\u212aED\r\nContent-Length: \u00a012\u00a0\r\n\r\n",
	"  GET\t/x  HTTP/1.1 \r\nCONTENT-ENCODING: x-gzip\r\ncontent-encoding:\r\nUpgrade: \u00e9\r\n\r\n",
	"HTTP/1.1 \v\f 204\r\r\nconnection: close,upgrade ,\r\n\r\n",
	"DELETE /a HTTP/1.1\nContent-Length: 1_0\nContent-Length: 1\n\n",
	"HTTP/1.1 200\u2003OK\r\n\r\n", "GET\u00a0/x HTTP/1.1\r\n\r\n", "HTTP/1.1 404 N\u00f6t Found\r\n\r\n", "\u00e9GET / HTTP/1.1\r\n\r\n",
}

// TestParseHeadOdd checks parseHead against the reference over odd
// heads and every head of the recorded streams, reusing one httpHead
// as the walk does.
func TestParseHeadOdd(t *testing.T) {
	var hd httpHead
	for _, s := range headCases {
		checkHead(t, &hd, []byte(s))
	}
	n := 0
	for _, b := range corpusHeads(t) {
		checkHead(t, &hd, b)
		n++
	}
	if n == 0 {
		t.Fatal("no heads in the corpus streams")
	}
}

// TestParseHeadAllocs checks that parsing a usual head and reading the
// fields the walk reads allocates nothing.
func TestParseHeadAllocs(t *testing.T) {
	var hd httpHead
	b := []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Mon, 07 Dec 2026 05:38:25 GMT\r\nContent-Length: 2082\r\n" +
		"Connection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\nConnection: x\r\n\r\n")
	parseHead(&hd, b)
	n := testing.AllocsPerRun(100, func() {
		parseHead(&hd, b)
		_ = hd.has("connection", "upgrade") || len(hd.get("upgrade")) > 0
		_ = containsFold(hd.get("transfer-encoding"), "chunked")
		_, _ = parseLength(bytes.TrimSpace(hd.get("content-length")))
		_ = hd.method()
	})
	if n != 0 {
		t.Fatalf("%v allocations per head", n)
	}
}

// FuzzParseHead checks that parseHead reads every field the walk asks
// for (get, has) exactly as parsing every field does.
func FuzzParseHead(f *testing.F) {
	for _, s := range headCases {
		f.Add([]byte(s))
	}
	var hd httpHead
	f.Fuzz(func(t *testing.T, b []byte) { checkHead(t, &hd, b) })
}

// corpusHeads returns HTTP/1 heads found in the repository's recorded
// captures (and the shared corpus when it is there): each start line
// to the blank line after it, as the bytes lie in the capture files
// (a head within one packet). Stray bytes around them only make more
// odd inputs.
func corpusHeads(t *testing.T) [][]byte {
	t.Helper()
	var files []string
	for _, pat := range []string{"../../testdata/*/*.pcap*", "../../testdata/*/*/*.pcap*", "/work/shared/corpus/*.pcap*"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	var heads [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("reading %s: %v", f, err)
		}
		for _, start := range []string{"HTTP/1.", "GET ", "POST ", "PUT ", "HEAD ", "CONNECT ", "OPTIONS "} {
			for i := 0; ; {
				k := bytes.Index(b[i:], []byte(start))
				if k < 0 {
					break
				}
				s := i + k
				end := min(len(b), s+4096)
				if e := bytes.Index(b[s:end], []byte("\r\n\r\n")); e >= 0 {
					end = s + e + 4
				} else if e := bytes.Index(b[s:end], []byte("\n\n")); e >= 0 {
					end = s + e + 2
				}
				heads = append(heads, b[s:end])
				i = s + len(start)
			}
		}
	}
	return heads
}
