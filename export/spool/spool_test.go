package spool

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tapview/tapview/sources"
)

func pkt(i int, ts time.Time) sources.Packet {
	return sources.Packet{
		Timestamp: ts, OrigLen: 100 + i, LinkType: sources.LinkSLL2, Data: bytes.Repeat([]byte{byte(i)}, i+1),
		Source: "stdin", Interface: i % 3, Ordinal: uint64(i + 1), Offset: -1,
	}
}

func readAll(t *testing.T, w *Writer) []Record {
	t.Helper()
	r, err := w.Reader()
	if err != nil {
		t.Fatal(err)
	}
	var out []Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
}

func TestRoundTripInWriteOrder(t *testing.T) {
	w, err := Create(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	base := time.Unix(1700000000, 123456789)
	want := []sources.Packet{pkt(0, base.Add(time.Second)), pkt(1, base), pkt(2, base.Add(-time.Hour))}
	if err := w.WritePacket(want[0], "first → comment"); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSecrets(0x544c534b, []byte("CLIENT_RANDOM aa bb\n")); err != nil {
		t.Fatal(err)
	}
	for _, p := range want[1:] {
		if err := w.WritePacket(p, ""); err != nil {
			t.Fatal(err)
		}
	}
	got := readAll(t, w)
	if len(got) != 4 || w.Len() != 4 {
		t.Fatalf("got %d records, Len %d, want 4", len(got), w.Len())
	}
	if got[0].Comment != "first → comment" || got[1].IsSecrets() == false || string(got[1].Secrets) != "CLIENT_RANDOM aa bb\n" || got[1].SecretsKind != 0x544c534b {
		t.Fatalf("records 0/1 = %+v / %+v", got[0], got[1])
	}
	for i, rec := range []Record{got[0], got[2], got[3]} {
		p, q := rec.Packet, want[i]
		if !p.Timestamp.Equal(q.Timestamp) || p.OrigLen != q.OrigLen || p.LinkType != q.LinkType ||
			!bytes.Equal(p.Data, q.Data) || p.Source != q.Source || p.Interface != q.Interface ||
			p.Ordinal != q.Ordinal || p.Offset != q.Offset {
			t.Errorf("packet %d = %+v, want %+v", i, p, q)
		}
	}
	// A second reader starts again from the beginning.
	if again := readAll(t, w); len(again) != 4 {
		t.Fatalf("second reader got %d records", len(again))
	}
}

func TestSortedByTimestampStable(t *testing.T) {
	w, err := Create(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	base := time.Unix(1700000000, 0)
	order := []int{5, 1, 3, 1, 0, 4}
	for i, o := range order {
		p := pkt(i, base.Add(time.Duration(o)*time.Millisecond))
		if err := w.WritePacket(p, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteSecrets(1, []byte("k")); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, w)
	if !got[0].IsSecrets() {
		t.Fatalf("secrets should come first in a sorted spool, got %+v", got[0])
	}
	var ords []uint64
	for _, r := range got[1:] {
		ords = append(ords, r.Packet.Ordinal)
	}
	// Timestamps 0(5),1(2),1(4),3(3),4(6),5(1): ties keep write order.
	want := []uint64{5, 2, 4, 3, 6, 1}
	for i := range want {
		if ords[i] != want[i] {
			t.Fatalf("order %v, want %v", ords, want)
		}
	}
}

func TestConcurrentWritersAndClose(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if err := w.WritePacket(pkt(g*1000+i%200, time.Unix(int64(i), 0)), ""); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := readAll(t, w); len(got) != 800 {
		t.Fatalf("got %d records, want 800", len(got))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("spool file left behind: %v", ents)
	}
	if err := w.WritePacket(pkt(1, time.Now()), ""); err == nil {
		t.Fatal("write after close succeeded")
	}
}

func TestDamagedSpoolIsAnError(t *testing.T) {
	w, err := Create(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.WritePacket(pkt(3, time.Now()), "c"); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.f.Truncate(w.off - 2); err != nil {
		t.Fatal(err)
	}
	w.off -= 2
	r, err := w.Reader()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut record: err %v, want unexpected EOF", err)
	}
}
