// Package corpustest reads the shared capture corpus for tests of the
// decode packages. It reads pcap and pcapng with gopacket's pcapgo directly
// so decoder tests do not depend on tapview's own file source, and it
// parses MANIFEST.tsv so tests compare against tshark's counts instead of
// numbers typed into the test.
package corpustest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/tapview/tapview/sources"
)

// Dir returns the corpus directory (../shared/corpus next to the module
// root found by walking up to go.mod), skipping the test when it is
// absent.
func Dir(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatalf("getwd: %v", err)
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			c := filepath.Join(d, "..", "shared", "corpus")
			if _, err := os.Stat(filepath.Join(c, "MANIFEST.tsv")); err != nil {
				tb.Skipf("corpus not found at %s: %v", c, err)
			}
			return c
		}
		parent := filepath.Dir(d)
		if parent == d {
			tb.Skip("go.mod not found above " + wd + "; corpus unavailable")
		}
		d = parent
	}
}

// Row is one MANIFEST.tsv row, keyed by column name.
type Row map[string]string

// Int returns a numeric column, failing the test when it is not a number.
func (r Row) Int(tb testing.TB, col string) int {
	tb.Helper()
	n, err := strconv.Atoi(r[col])
	if err != nil {
		tb.Fatalf("manifest %s column %s=%q: %v", r["file"], col, r[col], err)
	}
	return n
}

// Manifest returns the manifest rows in file order.
func Manifest(tb testing.TB) []Row {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(Dir(tb), "MANIFEST.tsv"))
	if err != nil {
		tb.Fatalf("read manifest: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var head []string
	var rows []Row
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if head == nil {
			head = cols
			continue
		}
		r := Row{}
		for i, c := range cols {
			if i < len(head) {
				r[head[i]] = c
			}
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("scan manifest: %v", err)
	}
	return rows
}

// Read returns the packets of one corpus file, numbered from 1, stopping
// quietly at the first read error (the corpus has a file cut short and a
// corrupted one; the packets before the damage are what tests want).
func Read(tb testing.TB, name string) []sources.Packet {
	tb.Helper()
	pkts, err := ReadPath(filepath.Join(Dir(tb), name))
	if err != nil && len(pkts) == 0 {
		tb.Fatalf("read %s: %v", name, err)
	}
	return pkts
}

type packetReader interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// ReadPath reads a pcap or pcapng file; it returns the packets read before
// an error together with that error (nil at a clean end of file).
func ReadPath(path string) ([]sources.Packet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("peek magic: %w", err)
	}
	var r packetReader
	var link func(ci gopacket.CaptureInfo) uint16
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, fmt.Errorf("pcapng header: %w", err)
		}
		r = ng
		link = func(ci gopacket.CaptureInfo) uint16 {
			if len(ci.AncillaryData) > 0 {
				if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
					return uint16(lt)
				}
			}
			return uint16(ng.LinkType())
		}
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("pcap header: %w", err)
		}
		r = pr
		lt := uint16(pr.LinkType())
		link = func(gopacket.CaptureInfo) uint16 { return lt }
	}
	var out []sources.Packet
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, sources.Packet{
			Timestamp: ci.Timestamp,
			OrigLen:   ci.Length,
			LinkType:  link(ci),
			Data:      data,
			Source:    filepath.Base(path),
			Interface: ci.InterfaceIndex,
			Ordinal:   uint64(len(out) + 1),
			Offset:    -1,
		})
	}
}
