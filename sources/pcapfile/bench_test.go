package pcapfile

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tapview/tapview/sources"
)

// discard is an Emitter that drops everything, so benchmarks measure
// reading alone.
type discard struct{ n int }

func (d *discard) Packet(p sources.Packet) { d.n++ }
func (d *discard) Status(sources.Status)   {}

// bigCapture writes a file of about size bytes built from a corpus file:
// a pcap's records repeated after one header, or a pcapng repeated whole
// (concatenated sections are valid pcapng).
func bigCapture(b *testing.B, name string, size int) string {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir(b), name))
	if err != nil {
		b.Fatal(err)
	}
	head, body := []byte(nil), data
	if filepath.Ext(name) == ".pcap" {
		head, body = data[:pcapFileHeaderLen], data[pcapFileHeaderLen:]
	}
	out := append([]byte(nil), head...)
	for len(out) < size {
		out = append(out, body...)
	}
	path := filepath.Join(b.TempDir(), name)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

func benchmarkRead(b *testing.B, name string) {
	path := bigCapture(b, name, 150<<20)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		s, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		d := &discard{}
		if err := s.Run(context.Background(), d); err != nil {
			b.Fatal(err)
		}
		if d.n == 0 {
			b.Fatal("no packets")
		}
	}
}

// BenchmarkReadPcapLarge reads 150 MB of mostly full-size frames.
func BenchmarkReadPcapLarge(b *testing.B) { benchmarkRead(b, "http11_sll2_download.pcap") }

// BenchmarkReadPcapngSmall reads 150 MB of mostly tiny loopback packets,
// the worst case for per-packet overhead.
func BenchmarkReadPcapngSmall(b *testing.B) { benchmarkRead(b, "grpc_unary.pcapng") }
