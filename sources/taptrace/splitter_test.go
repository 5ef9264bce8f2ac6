package taptrace

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func splitAll(t *testing.T, r io.Reader, max int) ([]string, error) {
	t.Helper()
	s := NewSplitter(r, max)
	var out []string
	for {
		v, err := s.Next()
		if err != nil {
			return out, err
		}
		out = append(out, string(v))
	}
}

// Pretty objects back to back, braces and quotes inside strings, and a
// reader handing over one byte at a time (a chunk boundary anywhere).
func TestSplitterPrettyConcatenated(t *testing.T) {
	in := "{\n \"a\": \"}{\\\"\",\n \"b\": [1, {\"c\": 2}]\n}\n{\"x\":\"\\\\\"}  \r\n\t[1,2]{}"
	want := []string{"{\n \"a\": \"}{\\\"\",\n \"b\": [1, {\"c\": 2}]\n}", "{\"x\":\"\\\\\"}", "[1,2]", "{}"}
	for _, r := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in)), iotest.DataErrReader(strings.NewReader(in))} {
		got, err := splitAll(t, r, 0)
		if err != io.EOF {
			t.Fatalf("err = %v, want EOF", err)
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("got %q\nwant %q", got, want)
		}
	}
}

func TestSplitterErrors(t *testing.T) {
	_, err := splitAll(t, strings.NewReader(`{"a":1} {"b":`), 0)
	if err != io.ErrUnexpectedEOF {
		t.Errorf("truncated: %v", err)
	}
	got, err := splitAll(t, strings.NewReader(`{"a":1} oops {"b":2}`), 0)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 8 || se.Char != 'o' || len(got) != 1 {
		t.Errorf("junk: %v %v", got, err)
	}
	// A value that never closes stops at the bound instead of buffering
	// the whole stream.
	big := io.MultiReader(strings.NewReader(`{"a":"`), io.LimitReader(neverEnding('x'), 10<<20))
	if _, err := splitAll(t, big, 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Errorf("unbounded value: %v", err)
	}
	// A value of exactly the bound still passes.
	v := `{"a":"` + strings.Repeat("y", 1000) + `"}`
	got, err = splitAll(t, strings.NewReader(v+v), len(v))
	if err != io.EOF || len(got) != 2 {
		t.Errorf("value at the bound: %d values, %v", len(got), err)
	}
	// Read errors pass through.
	boom := errors.New("boom")
	if _, err := splitAll(t, io.MultiReader(strings.NewReader(`{"a"`), iotest.ErrReader(boom)), 0); err != boom {
		t.Errorf("read error: %v", err)
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

func FuzzSplitter(f *testing.F) {
	f.Add([]byte("{\"a\":\"}\"}\n{\"b\":[{}]}"))
	f.Add([]byte(`{"http_buffered_trace":{"request":{"headers":[{"key":":path","value":"/"}]}}}`))
	f.Add([]byte(`{"a":"\\"}x`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewSplitter(iotest.HalfReader(bytes.NewReader(data)), 4096)
		total := 0
		for {
			v, err := s.Next()
			if err != nil {
				break
			}
			if len(v) == 0 || (v[0] != '{' && v[0] != '[') {
				t.Fatalf("value %q does not start a JSON container", v)
			}
			if c := v[len(v)-1]; c != '}' && c != ']' {
				t.Fatalf("value %q does not end a JSON container", v)
			}
			total += len(v)
			if total > len(data) {
				t.Fatalf("returned more bytes than the input holds")
			}
		}
	})
}
