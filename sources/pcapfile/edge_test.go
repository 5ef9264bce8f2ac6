package pcapfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tapview/tapview/sources"
)

func runBytes(t testing.TB, name string, r io.Reader) (*recorder, error) {
	t.Helper()
	s, err := New(name, r)
	if err != nil {
		return nil, err
	}
	rec := &recorder{}
	if err := s.Run(context.Background(), rec); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rec, nil
}

func TestNotCapture(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct {
		data []byte
		msg  string
	}{
		"trace.txt": {[]byte("{\n  \"http_buffered_trace\": {}}"),
			"trace.txt: not a pcap or pcapng capture (starts with 7b 0a 20 20); for Envoy tap traces use a .json/.pb/.pb_text/.pb_length_delimited name"},
		"empty.pcap": {nil, "empty.pcap: not a pcap or pcapng capture (the file is empty)"},
		"three.pcap": {[]byte{0xd4, 0xc3, 0xb2}, "three.pcap: not a pcap or pcapng capture (the file is only 3 bytes long)"},
	}
	for name, c := range cases {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, c.data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path)
		if !errors.Is(err, ErrNotCapture) {
			t.Errorf("%s: error %v does not wrap ErrNotCapture", name, err)
		} else if err.Error() != c.msg {
			t.Errorf("%s: message\n%q, want\n%q", name, err.Error(), c.msg)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing.pcap")); err == nil || errors.Is(err, ErrNotCapture) {
		t.Errorf("a missing file must fail with an I/O error, got %v", err)
	}
}

// TestHeaderOnly: a file with just a header has no packets and no warning;
// one that ends inside its header gets a truncation warning.
func TestHeaderOnly(t *testing.T) {
	le := binary.LittleEndian
	hdr := le.AppendUint32(nil, magicNano)
	hdr = append(hdr, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	hdr = le.AppendUint32(hdr, 65535)
	hdr = le.AppendUint32(hdr, uint32(sources.LinkEthernet))
	var ng ngBuilder
	ng.shb(binary.BigEndian)
	ng.idb(sources.LinkEthernet, 0, -1, 0)
	for name, data := range map[string][]byte{"pcap": hdr, "pcapng": ng.buf} {
		rec, err := runBytes(t, name, bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(rec.packets) != 0 || len(rec.statuses) != 0 {
			t.Errorf("%s: header only gave %d packets, %+v", name, len(rec.packets), rec.statuses)
		}
		rec, err = runBytes(t, name, bytes.NewReader(data[:10]))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w := rec.warnings(); len(w) != 1 || w[0].Kind != kindTruncated || !strings.Contains(w[0].Message, "at byte 0") {
			t.Errorf("%s: half a header gave %+v", name, rec.statuses)
		}
	}
}

// TestStream reads corpus files through a reader that returns one byte at
// a time and has no Len, as stdin would, and expects the same packets as
// Open gives, with Offset -1.
func TestStream(t *testing.T) {
	dir := corpusDir(t)
	for _, name := range []string{"pcapng_3sections_be_le_mixed_linktypes.pcapng", "http11_get_plain.pcap",
		"pcapng_dsb_tls_keys_decryptable.pcapng"} {
		path := filepath.Join(dir, name)
		_, want := readAll(t, path)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New("-", iotest.OneByteReader(bytes.NewReader(data)))
		if err != nil {
			t.Fatal(err)
		}
		if s.Name() != "stdin" || s.Size() != 0 {
			t.Errorf("stdin source: Name %q Size %d", s.Name(), s.Size())
		}
		got := &recorder{}
		if err := s.Run(context.Background(), got); err != nil {
			t.Fatal(err)
		}
		if len(got.packets) != len(want.packets) || len(got.secrets) != len(want.secrets) {
			t.Fatalf("%s: stream gave %d packets %d secrets, file %d %d", name,
				len(got.packets), len(got.secrets), len(want.packets), len(want.secrets))
		}
		for i, p := range got.packets {
			w := want.packets[i]
			if p.Offset != -1 || p.Source != "stdin" || !bytes.Equal(p.Data, w.Data) ||
				!p.Timestamp.Equal(w.Timestamp) || p.LinkType != w.LinkType || p.Ordinal != w.Ordinal {
				t.Fatalf("%s packet %d differs: %+v vs %+v", name, i+1, p, w)
			}
		}
		if err := s.Run(context.Background(), got); err == nil {
			t.Errorf("a second Run must fail")
		}
	}
}

// TestCutEverywhere cuts small captures at every length: Run never
// fails, the packets are a prefix of the full read, and a cut that is not
// on a record boundary is reported as truncated at that record's offset.
func TestCutEverywhere(t *testing.T) {
	dir := corpusDir(t)
	for _, name := range []string{"pcapng_3sections_be_le_mixed_linktypes.pcapng", "dns_udp_query_response.pcap",
		"nsec_sll_tcp_handshake.pcap"} {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, full := readAll(t, path)
		for n := 4; n < len(data); n++ {
			rec, err := runBytes(t, name, bytes.NewReader(data[:n]))
			if err != nil {
				t.Fatalf("cut at %d: %v", n, err)
			}
			for i, p := range rec.packets {
				if !bytes.Equal(p.Data, full.packets[i].Data) {
					t.Fatalf("cut at %d: packet %d differs", n, i+1)
				}
			}
			w := rec.warnings()
			if len(w) > 1 || (len(w) == 1 && w[0].Kind != kindTruncated) {
				t.Fatalf("cut at %d: statuses %+v", n, w)
			}
			// The next packet starts where the cut record started, unless
			// the cut fell on a boundary (then there is no warning).
			if len(w) == 1 && len(rec.packets) < len(full.packets) {
				next := full.packets[len(rec.packets)]
				if next.Offset < int64(n) && strings.HasPrefix(w[0].Message, "file cut short in the middle of a packet") &&
					!strings.Contains(w[0].Message, "at byte "+strconv.FormatInt(next.Offset, 10)) {
					t.Fatalf("cut at %d: %q does not name byte %d", n, w[0].Message, next.Offset)
				}
			}
		}
	}
}

// TestCancel stops reading between records once ctx is cancelled.
func TestCancel(t *testing.T) {
	dir := corpusDir(t)
	s, err := Open(filepath.Join(dir, "grpc_unary.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{onPacket: func(n int) {
		if n == 10 {
			cancel()
		}
	}}
	if err := s.Run(ctx, rec); err != nil {
		t.Fatalf("cancelled Run must return nil, got %v", err)
	}
	if len(rec.packets) != 10 {
		t.Errorf("read %d packets after cancelling at 10", len(rec.packets))
	}
}

// TestSynthetic covers what the corpus lacks: binary timestamp
// resolutions, if_tsoffset, a Simple Packet Block before any timestamp,
// unknown blocks, oversized and inconsistent packet blocks.
func TestSynthetic(t *testing.T) {
	var b ngBuilder
	b.shb(binary.LittleEndian)
	b.idb(sources.LinkRaw, 64, 0x80|20, 1000) // 2^-20 s, +1000 s
	b.spb(make([]byte, 64), 100)              // before any timestamp: the epoch; cut to snaplen
	b.block(0x0bad, []byte("custom"))
	b.block(0x12345678, make([]byte, 40))
	b.epb(0, 3<<20|1<<19, []byte("abc"), 3) // 3.5 s
	b.dsb(0x57474b4c, []byte("wg"))
	b.shb(binary.BigEndian)
	b.idb(sources.LinkNull, 0, 12, -5) // picoseconds, -5 s
	b.epb(0, 7_123_456_789_012, []byte{1, 2, 3, 4, 5}, 1500)
	b.spb(make([]byte, 200), 200)
	rec, err := runBytes(t, "synthetic", bytes.NewReader(b.buf))
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		ts         string
		link       uint16
		n, origlen int
	}
	want := []got{
		{"0.000000000", sources.LinkRaw, 64, 100},
		{"1003.500000000", sources.LinkRaw, 3, 3},
		{"2.123456789", sources.LinkNull, 5, 1500},
		{"2.123456789", sources.LinkNull, 200, 200},
	}
	if len(rec.packets) != len(want) {
		t.Fatalf("got %d packets, want %d (%+v)", len(rec.packets), len(want), rec.statuses)
	}
	for i, p := range rec.packets {
		if g := (got{epoch(p.Timestamp), p.LinkType, len(p.Data), p.OrigLen}); g != want[i] {
			t.Errorf("packet %d: %+v, want %+v", i+1, g, want[i])
		}
	}
	if len(rec.secrets) != 1 || rec.kinds[0] != SecretsWireGuard || string(rec.secrets[0]) != "wg" {
		t.Errorf("secrets %q kinds %x", rec.secrets, rec.kinds)
	}
	if len(rec.warnings()) != 0 {
		t.Errorf("unexpected warnings %+v", rec.warnings())
	}

	// An unusable resolution is reported once and read as microseconds.
	var u ngBuilder
	u.shb(binary.LittleEndian)
	u.idb(sources.LinkEthernet, 0, 25, 0)
	u.epb(0, 2_000_001, []byte("x"), 1)
	rec, err = runBytes(t, "tsresol", bytes.NewReader(u.buf))
	if err != nil {
		t.Fatal(err)
	}
	if w := rec.warnings(); len(w) != 1 || w[0].Kind != "timestamps" || len(rec.packets) != 1 ||
		epoch(rec.packets[0].Timestamp) != "2.000001000" {
		t.Errorf("if_tsresol 10^-25: warnings %+v, packets %d", w, len(rec.packets))
	}

	// Damage that must stop reading with a corrupt warning.
	bad := map[string]func(b *ngBuilder){
		"unknown interface": func(b *ngBuilder) { b.epb(3, 0, []byte("x"), 1) },
		"huge packet":       func(b *ngBuilder) { b.epb(0, 0, make([]byte, minRecordLimit+4), minRecordLimit+4) },
		"bad trailer": func(b *ngBuilder) {
			b.epb(0, 0, []byte("x"), 1)
			b.buf[len(b.buf)-1] ^= 0xff
		},
		"odd length": func(b *ngBuilder) { b.buf = append(b.buf, 6, 0, 0, 0, 13, 0, 0, 0) },
	}
	for name, damage := range bad {
		var d ngBuilder
		d.shb(binary.LittleEndian)
		d.idb(sources.LinkEthernet, 0, -1, 0)
		d.epb(0, 0, []byte("good"), 4)
		damage(&d)
		rec, err := runBytes(t, name, bytes.NewReader(d.buf))
		if err != nil {
			t.Fatal(err)
		}
		w := rec.warnings()
		if len(rec.packets) != 1 || len(w) != 1 || w[0].Kind != kindCorrupt {
			t.Errorf("%s: %d packets, warnings %+v", name, len(rec.packets), w)
		}
	}
}

func TestTimestampConversion(t *testing.T) {
	cases := []struct {
		ts     uint64
		res    uint8
		offset int64
		want   string
	}{
		{1_500_000_001, 9, 0, "1.500000001"},
		{1_500_001, 6, 0, "1.500001000"},
		{15, 1, 0, "1.500000000"},
		{7, 0, 10, "17.000000000"},
		{1<<63 + 5, 0x80 | 63, 0, "1.000000000"},
		{1 << 63, 0x80 | 64, 0, "0.500000000"},
		{1 << 63, 0x80 | 127, 0, "0.000000000"},
		{^uint64(0), 19, 0, "1.844674407"},
		{3, 0x80, 0, "3.000000000"},
	}
	for _, c := range cases {
		if got := epoch(timestamp(c.ts, c.res, c.offset)); got != c.want {
			t.Errorf("timestamp(%d, 0x%x, %d) = %s, want %s", c.ts, c.res, c.offset, got, c.want)
		}
	}
	if resolutionOK(20) || !resolutionOK(19) || !resolutionOK(0xff) {
		t.Errorf("resolutionOK boundaries wrong")
	}
}
