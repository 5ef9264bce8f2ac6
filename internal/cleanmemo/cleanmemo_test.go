package cleanmemo

import (
	"bytes"
	"fmt"
	"testing"
)

func TestMemo(t *testing.T) {
	m := New(1<<4, 64)
	line := []byte("Content-Type: application/json\r\n")
	if m.Has(1, line) {
		t.Fatal("an empty memo has a line")
	}
	m.Add(1, line)
	if !m.Has(1, line) {
		t.Fatal("a remembered line is not found")
	}
	if m.Has(2, line) {
		t.Fatal("a line remembered for one kind is found for another")
	}
	if m.Has(1, line[:len(line)-1]) || m.Has(1, append(bytes.Clone(line), 'x')) {
		t.Fatal("a prefix or an extension of a remembered line is found")
	}
	long := bytes.Repeat([]byte("a"), m.MaxLen()+1)
	m.Add(1, long)
	if m.Has(1, long) {
		t.Fatal("a line longer than a slot is remembered")
	}
	fit := long[:m.MaxLen()]
	m.Add(1, fit)
	if !m.Has(1, fit) {
		t.Fatal("a line of MaxLen bytes is not remembered")
	}
	// More lines than slots: each lookup answers only for its own bytes,
	// and the last line added is always found.
	var last []byte
	for i := range 200 {
		last = fmt.Appendf(nil, "X-Seq: %d\r\n", i)
		m.Add(1, last)
	}
	if !m.Has(1, last) {
		t.Fatal("the newest line is not found")
	}
	if len(m.table) != 16*64 {
		t.Fatalf("the table grew to %d bytes, want %d", len(m.table), 16*64)
	}
	found := 0
	for i := range 200 {
		if m.Has(1, fmt.Appendf(nil, "X-Seq: %d\r\n", i)) {
			found++
		}
	}
	if found == 0 || found > 16 {
		t.Fatalf("%d of 200 lines found in 16 slots", found)
	}
	if m.Has(1, []byte("X-Seq: 200\r\n")) {
		t.Fatal("a line never added is found")
	}
	var zero Memo
	zero.Add(1, line)
	if zero.Has(1, line) || zero.Has(1, nil) {
		t.Fatal("the zero memo remembers")
	}
}
