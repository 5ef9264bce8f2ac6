package pcapfile

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// compress runs the real gzip or zstd tool over src into dst.
func compress(t *testing.T, tool, src, dst string) {
	t.Helper()
	bin, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not installed", tool)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin, "-c")
	cmd.Stdin, cmd.Stdout = in, out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
}

// TestCompressedMatchesPlain reads corpus captures compressed by the real
// gzip and zstd tools, under names that do not say so (the magic bytes
// decide), from a file and from a stream as stdin would be, and checks
// every packet equals the uncompressed read; tshark reads the same
// compressed file to the same frame count.
func TestCompressedMatchesPlain(t *testing.T) {
	dir := corpusDir(t)
	tmp := t.TempDir()
	for _, name := range []string{"http11_keepalive_5req_1conn.pcap", "grpc_unary.pcapng", "tls13_sll2_sni_zeek_org.pcap"} {
		for _, tool := range []string{"gzip", "zstd"} {
			t.Run(name+"."+tool, func(t *testing.T) {
				plainPath := filepath.Join(dir, name)
				zPath := filepath.Join(tmp, name+"-"+tool+".capture")
				compress(t, tool, plainPath, zPath)
				_, plain := readAll(t, plainPath)
				s, got := readAll(t, zPath)
				if s.Size() != 0 {
					t.Errorf("size %d for a compressed capture, want 0 (unknown)", s.Size())
				}
				comparePackets(t, plain, got)
				if w := got.warnings(); len(w) != 0 {
					t.Errorf("warnings: %v", w)
				}
				// As on stdin: a stream, no name hint.
				f, err := os.Open(zPath)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				st, err := New("-", f)
				if err != nil {
					t.Fatalf("New on a %s stream: %v", tool, err)
				}
				var stdin recorder
				if err := st.Run(context.Background(), &stdin); err != nil {
					t.Fatal(err)
				}
				comparePackets(t, plain, &stdin)
				// tshark once (its start-up is slow): gzip is read the same way.
				if bin, err := exec.LookPath("tshark"); err == nil && !testing.Short() && name == "grpc_unary.pcapng" && tool == "zstd" {
					out, _ := exec.Command(bin, "-n", "-r", zPath, "-T", "fields", "-e", "frame.number").Output()
					if n := len(strings.Fields(string(out))); n != len(got.packets) {
						t.Errorf("tshark reads %d frames from the %s file, we %d", n, tool, len(got.packets))
					}
				}
			})
		}
	}
}

func comparePackets(t *testing.T, want, got *recorder) {
	t.Helper()
	if len(got.packets) != len(want.packets) || len(got.packets) == 0 {
		t.Fatalf("%d packets, uncompressed %d", len(got.packets), len(want.packets))
	}
	for i, p := range got.packets {
		w := want.packets[i]
		if !bytes.Equal(p.Data, w.Data) || !p.Timestamp.Equal(w.Timestamp) || p.OrigLen != w.OrigLen ||
			p.LinkType != w.LinkType || p.Interface != w.Interface || p.Ordinal != w.Ordinal {
			t.Fatalf("packet %d differs from the uncompressed read", i+1)
		}
		if p.Offset != -1 {
			t.Fatalf("packet %d: offset %d, want -1 (no byte of the file)", i+1, p.Offset)
		}
	}
	if len(got.secrets) != len(want.secrets) {
		t.Errorf("%d secrets blocks, uncompressed %d", len(got.secrets), len(want.secrets))
	}
}

// TestCompressedDamage damages a gzip and a zstd capture in the middle
// and cuts one short: Run keeps the packets before the damage and warns,
// naming the compression, instead of failing.
func TestCompressedDamage(t *testing.T) {
	dir := corpusDir(t)
	tmp := t.TempDir()
	src := filepath.Join(dir, "http11_download_retrans_ooo.pcap")
	_, plain := readAll(t, src)
	for _, tool := range []string{"gzip", "zstd"} {
		z := filepath.Join(tmp, "c."+tool)
		compress(t, tool, src, z)
		data, err := os.ReadFile(z)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(data)
		mid := len(bad) / 2
		for i := mid; i < mid+256; i++ {
			bad[i] ^= 0x5a
		}
		// The checksum at the end of the stream: every packet decodes,
		// then the decompressor finds the damage.
		// (gzip: CRC-32 then the 4-byte size; zstd: a 4-byte checksum.)
		badSum := bytes.Clone(data)
		if tool == "gzip" {
			badSum[len(badSum)-5] ^= 0xff
		} else {
			badSum[len(badSum)-1] ^= 0xff
		}
		cut := data[:len(data)/2]
		for _, c := range []struct {
			name, kind, says string
			data             []byte
			all              bool
		}{
			{"corrupt", kindCorrupt, tool, bad, false},
			// gzip hands out all data before checking; klauspost's zstd
			// holds back the last blocks until the checksum matches.
			{"checksum", kindCorrupt, tool + " compression is damaged", badSum, tool == "gzip"},
			{"cut", kindTruncated, "cut short", cut, false},
		} {
			t.Run(tool+"-"+c.name, func(t *testing.T) {
				path := filepath.Join(tmp, tool+"-"+c.name)
				if err := os.WriteFile(path, c.data, 0o644); err != nil {
					t.Fatal(err)
				}
				_, rec := readAll(t, path)
				w := rec.warnings()
				if len(w) != 1 || w[0].Kind != c.kind || !strings.Contains(w[0].Message, c.says) {
					t.Fatalf("warnings %+v, want one %s naming %q", w, c.kind, c.says)
				}
				if c.all != (len(rec.packets) == len(plain.packets)) || len(rec.packets) > len(plain.packets) ||
					len(rec.packets) < len(plain.packets)/10 {
					t.Fatalf("%d packets kept of %d", len(rec.packets), len(plain.packets))
				}
				// Decompressors notice damage when a block or the stream
				// ends, so some garbage may precede the warning; the
				// packets well before the damaged half are intact.
				for i, p := range rec.packets[:len(plain.packets)/10] {
					if !bytes.Equal(p.Data, plain.packets[i].Data) {
						t.Fatalf("packet %d before the damage differs", i+1)
					}
				}
				t.Logf("%s: %d of %d packets, %s", c.name, len(rec.packets), len(plain.packets), w[0].Message)
			})
		}
	}
}

// TestCompressedNotCapture: a gzip file that does not hold a capture is
// refused with ErrNotCapture, saying it was decompressed first.
func TestCompressedNotCapture(t *testing.T) {
	tmp := t.TempDir()
	txt := filepath.Join(tmp, "notes.txt")
	if err := os.WriteFile(txt, []byte("not a capture at all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(tmp, "notes.gz")
	compress(t, "gzip", txt, gz)
	_, err := Open(gz)
	if err == nil || !strings.Contains(err.Error(), "after gzip decompression") || !strings.Contains(err.Error(), ErrNotCapture.Error()) {
		t.Fatalf("Open: %v", err)
	}
}
