package pcapfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tapview/tapview/sources"
)

// FuzzRead feeds arbitrary bytes as a capture file. It must not panic or
// hang; a non-capture must be ErrNotCapture; Run must return nil (an
// in-memory reader has no I/O errors, so anything odd is damage); the
// packets must hold no more bytes than the input (no invented data, so
// memory stays bounded by the input); and a damage warning, if any, must
// be the last thing emitted.
func FuzzRead(f *testing.F) {
	if dir, ok := fuzzCorpusDir(); ok {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			info, err := e.Info()
			if err != nil || info.Size() > 8<<10 || filepath.Ext(e.Name()) == ".tsv" || filepath.Ext(e.Name()) == ".md" {
				continue
			}
			if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
				f.Add(data)
			}
		}
	}
	var b ngBuilder
	b.shb(binary.BigEndian)
	b.idb(sources.LinkEthernet, 16, 0x80|30, 7)
	b.spb([]byte("spb"), 3)
	b.epb(0, 1<<40, []byte("epb data"), 8)
	b.dsb(SecretsTLSKeyLog, []byte("CLIENT_RANDOM 00 11\n"))
	b.block(0x40000bad, []byte("custom"))
	f.Add(b.buf)
	f.Add([]byte{0xa1, 0xb2, 0xc3, 0xd4})

	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := New("fuzz", bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrNotCapture) {
				t.Fatalf("New: %v does not wrap ErrNotCapture", err)
			}
			return
		}
		rec := &recorder{}
		if err := s.Run(context.Background(), rec); err != nil {
			t.Fatalf("Run: %v", err)
		}
		total := 0
		for i, p := range rec.packets {
			total += len(p.Data)
			if p.Ordinal != uint64(i+1) || p.OrigLen < len(p.Data) || cap(p.Data) != len(p.Data) {
				t.Fatalf("packet %d: ordinal %d origlen %d len %d cap %d", i+1, p.Ordinal, p.OrigLen, len(p.Data), cap(p.Data))
			}
		}
		secrets := 0
		for _, sec := range rec.secrets {
			secrets += len(sec)
		}
		if total+secrets > len(data) {
			t.Fatalf("emitted %d bytes from a %d-byte input", total+secrets, len(data))
		}
		damage := 0
		for _, st := range rec.statuses {
			if st.Kind == kindTruncated || st.Kind == kindCorrupt {
				damage++
			}
		}
		if damage > 1 {
			t.Fatalf("%d damage warnings, want at most one", damage)
		}
		if damage == 1 {
			last := rec.events[len(rec.events)-1]
			if last.what != "status" || (last.status.Kind != kindTruncated && last.status.Kind != kindCorrupt) {
				t.Fatalf("the damage warning is not the last event")
			}
		}
	})
}

// fuzzCorpusDir finds the shared corpus for seeds without skipping: the
// fuzz target is useful without it.
func fuzzCorpusDir() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			c := filepath.Join(dir, "..", "shared", "corpus")
			_, err := os.Stat(c)
			return c, err == nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
