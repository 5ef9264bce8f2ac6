package pcapfile

import (
	"bufio"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tapview/tapview/sources"
)

// event is one thing a Source emitted, in order.
type event struct {
	what   string // "packet", "status" or "secret"
	packet *sources.Packet
	status *sources.Status
	secret []byte
}

// recorder is an Emitter (and SecretsEmitter) that keeps everything.
type recorder struct {
	events   []event
	packets  []sources.Packet
	statuses []sources.Status
	secrets  [][]byte
	kinds    []uint32
	onPacket func(n int)
}

func (r *recorder) Packet(p sources.Packet) {
	r.packets = append(r.packets, p)
	r.events = append(r.events, event{what: "packet", packet: &p})
	if r.onPacket != nil {
		r.onPacket(len(r.packets))
	}
}

func (r *recorder) Status(s sources.Status) {
	r.statuses = append(r.statuses, s)
	r.events = append(r.events, event{what: "status", status: &s})
}

func (r *recorder) Secrets(kind uint32, data []byte) {
	r.secrets = append(r.secrets, data)
	r.kinds = append(r.kinds, kind)
	r.events = append(r.events, event{what: "secret", secret: data})
}

// warnings returns the Warning and Error statuses.
func (r *recorder) warnings() []sources.Status {
	var out []sources.Status
	for _, s := range r.statuses {
		if s.Level >= sources.Warning {
			out = append(out, s)
		}
	}
	return out
}

// corpusDir finds ../shared/corpus next to the module root, or skips.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found above the test directory; cannot locate the corpus")
		}
		dir = parent
	}
	c := filepath.Join(dir, "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(c, "MANIFEST.tsv")); err != nil {
		t.Skipf("corpus not found at %s (%v); these tests need the shared capture corpus", c, err)
	}
	return c
}

// manifestRow is the part of MANIFEST.tsv these tests check against.
type manifestRow struct {
	file      string
	bytes     int64
	linkTypes map[uint16]bool
	packets   int
}

func readManifest(t testing.TB, dir string) []manifestRow {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var rows []manifestRow
	var col map[string]int
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if col == nil {
			col = map[string]int{}
			for i, name := range fields {
				col[name] = i
			}
			continue
		}
		row := manifestRow{file: fields[col["file"]], linkTypes: map[uint16]bool{}}
		if row.packets, err = strconv.Atoi(fields[col["packets"]]); err != nil {
			t.Fatalf("manifest %s: packets: %v", row.file, err)
		}
		if row.bytes, err = strconv.ParseInt(fields[col["bytes"]], 10, 64); err != nil {
			t.Fatalf("manifest %s: bytes: %v", row.file, err)
		}
		for _, lt := range strings.Split(fields[col["link_types"]], ",") {
			i, j := strings.IndexByte(lt, '('), strings.IndexByte(lt, ')')
			n, err := strconv.Atoi(lt[i+1 : j])
			if err != nil {
				t.Fatalf("manifest %s: link type %q: %v", row.file, lt, err)
			}
			row.linkTypes[uint16(n)] = true
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("manifest has no rows")
	}
	return rows
}

// readAll runs Open(path) to the end.
func readAll(t testing.TB, path string) (*Source, *recorder) {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	rec := &recorder{}
	if err := s.Run(context.Background(), rec); err != nil {
		t.Fatalf("Run(%s): %v", path, err)
	}
	return s, rec
}

// ngBuilder writes synthetic pcapng blocks for tests and fuzz seeds.
type ngBuilder struct {
	buf   []byte
	order byteOrder
}

// byteOrder is what binary.LittleEndian and binary.BigEndian both offer.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func (b *ngBuilder) block(btype uint32, body []byte) {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b.buf = b.order.AppendUint32(b.buf, btype)
	b.buf = b.order.AppendUint32(b.buf, n)
	b.buf = append(b.buf, body...)
	b.buf = b.order.AppendUint32(b.buf, n)
}

func (b *ngBuilder) shb(order byteOrder) {
	b.order = order
	body := order.AppendUint32(nil, byteOrderMark)
	body = order.AppendUint16(body, 1)
	body = order.AppendUint16(body, 0)
	body = order.AppendUint64(body, ^uint64(0))
	b.block(blockSHB, body)
}

// idb adds an interface; tsresol < 0 leaves the option out.
func (b *ngBuilder) idb(link uint16, snaplen uint32, tsresol int, tsoffset int64) {
	o := b.order
	body := o.AppendUint16(nil, link)
	body = o.AppendUint16(body, 0)
	body = o.AppendUint32(body, snaplen)
	body = o.AppendUint16(body, 2) // if_name, to be skipped
	body = o.AppendUint16(body, 3)
	body = append(body, 'e', 't', 'h', 0)
	if tsresol >= 0 {
		body = o.AppendUint16(body, optTSResol)
		body = o.AppendUint16(body, 1)
		body = append(body, byte(tsresol), 0, 0, 0)
	}
	if tsoffset != 0 {
		body = o.AppendUint16(body, optTSOffset)
		body = o.AppendUint16(body, 8)
		body = o.AppendUint64(body, uint64(tsoffset))
	}
	body = o.AppendUint32(body, 0) // opt_endofopt
	b.block(blockIDB, body)
}

func (b *ngBuilder) epb(iface uint32, ts uint64, data []byte, origlen uint32) {
	o := b.order
	body := o.AppendUint32(nil, iface)
	body = o.AppendUint32(body, uint32(ts>>32))
	body = o.AppendUint32(body, uint32(ts))
	body = o.AppendUint32(body, uint32(len(data)))
	body = o.AppendUint32(body, origlen)
	b.block(blockEPB, append(body, data...))
}

func (b *ngBuilder) spb(data []byte, origlen uint32) {
	b.block(blockSPB, append(b.order.AppendUint32(nil, origlen), data...))
}

func (b *ngBuilder) dsb(kind uint32, data []byte) {
	body := b.order.AppendUint32(nil, kind)
	body = b.order.AppendUint32(body, uint32(len(data)))
	b.block(blockDSB, append(body, data...))
}
