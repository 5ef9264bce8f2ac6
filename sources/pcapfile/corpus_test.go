package pcapfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/sources"
)

// damaged lists the corpus files that are expected to end in a warning.
var damaged = map[string]string{
	"http11_file_cut_short_mid_record.pcap": kindTruncated,
	"tls_corrupt_record_header.pcap":        kindCorrupt,
}

// TestCorpus reads every corpus file and checks the packet count and link
// types against MANIFEST.tsv, and every packet's Data and Offset against
// the file's own bytes.
func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	for _, row := range readManifest(t, dir) {
		t.Run(row.file, func(t *testing.T) {
			path := filepath.Join(dir, row.file)
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, rec := readAll(t, path)
			if s.Name() != row.file {
				t.Errorf("Name() = %q, want %q", s.Name(), row.file)
			}
			if s.Size() != row.bytes {
				t.Errorf("Size() = %d, want %d", s.Size(), row.bytes)
			}
			if len(rec.packets) != row.packets {
				t.Errorf("got %d packets, manifest says %d", len(rec.packets), row.packets)
			}
			seen := map[uint16]bool{}
			prevOff := int64(-1)
			for i, p := range rec.packets {
				seen[p.LinkType] = true
				if !row.linkTypes[p.LinkType] {
					t.Fatalf("packet %d: link type %d not in manifest %v", i+1, p.LinkType, row.linkTypes)
				}
				if p.Ordinal != uint64(i+1) || p.Source != row.file {
					t.Fatalf("packet %d: ordinal %d source %q", i+1, p.Ordinal, p.Source)
				}
				if cap(p.Data) != len(p.Data) || len(p.Data) > p.OrigLen {
					t.Fatalf("packet %d: len %d cap %d origlen %d", i+1, len(p.Data), cap(p.Data), p.OrigLen)
				}
				if p.Offset <= prevOff {
					t.Fatalf("packet %d: offset %d not after %d", i+1, p.Offset, prevOff)
				}
				prevOff = p.Offset
				if !dataAtOffset(file, p) {
					t.Fatalf("packet %d: Data does not match the file bytes at offset %d", i+1, p.Offset)
				}
			}
			for lt := range row.linkTypes {
				if !seen[lt] {
					t.Errorf("manifest link type %d never seen on a packet", lt)
				}
			}
			warn := rec.warnings()
			if kind, ok := damaged[row.file]; ok {
				if len(warn) != 1 || warn[0].Kind != kind || warn[0].Level != sources.Warning {
					t.Errorf("want one %q warning, got %+v", kind, warn)
				}
			} else if len(warn) != 0 {
				t.Errorf("unexpected warnings: %+v", warn)
			}
		})
	}
}

// dataAtOffset checks that the packet's bytes are in the file right after
// its record header: 16 bytes for pcap, 28 for an EPB, 12 for an SPB.
func dataAtOffset(file []byte, p sources.Packet) bool {
	for _, hdr := range []int64{16, 28, 12} {
		at := p.Offset + hdr
		if at+int64(len(p.Data)) <= int64(len(file)) && bytes.Equal(file[at:at+int64(len(p.Data))], p.Data) {
			return true
		}
	}
	return false
}

func TestDamagedFiles(t *testing.T) {
	dir := corpusDir(t)

	t.Run("cut short", func(t *testing.T) {
		_, rec := readAll(t, filepath.Join(dir, "http11_file_cut_short_mid_record.pcap"))
		if len(rec.packets) != 2696 {
			t.Errorf("got %d packets, want 2696", len(rec.packets))
		}
		w := rec.warnings()
		if len(w) != 1 {
			t.Fatalf("want 1 warning, got %+v", w)
		}
		want := "file cut short in the middle of a packet at byte 2715459"
		if !strings.Contains(w[0].Message, want) || w[0].Source != "http11_file_cut_short_mid_record.pcap" {
			t.Errorf("warning %+v, want message containing %q", w[0], want)
		}
		if last := rec.events[len(rec.events)-1]; last.what != "status" {
			t.Errorf("the warning must come after the last packet, last event is a %s", last.what)
		}
	})

	t.Run("corrupt record header", func(t *testing.T) {
		_, rec := readAll(t, filepath.Join(dir, "tls_corrupt_record_header.pcap"))
		if len(rec.packets) != 6 {
			t.Fatalf("got %d packets, want 6", len(rec.packets))
		}
		last := rec.packets[5]
		bad := last.Offset + 16 + int64(len(last.Data)) // where record 7 starts
		w := rec.warnings()
		if len(w) != 1 || w[0].Kind != kindCorrupt {
			t.Fatalf("want 1 corrupt warning, got %+v", w)
		}
		for _, want := range []string{fmt.Sprintf("at byte %d", bad), "4325376", "record 7"} {
			if !strings.Contains(w[0].Message, want) {
				t.Errorf("warning %q does not mention %q", w[0].Message, want)
			}
		}
		// Record 2 has a timestamp before record 1: kept as it is.
		if !rec.packets[1].Timestamp.Before(rec.packets[0].Timestamp) {
			t.Errorf("record 2's backwards timestamp was changed: %v then %v",
				rec.packets[0].Timestamp, rec.packets[1].Timestamp)
		}
	})
}

// TestNanosecondPcap checks that nanosecond pcap fractions are read as
// nanoseconds and sub-microsecond digits survive.
func TestNanosecondPcap(t *testing.T) {
	dir := corpusDir(t)
	_, rec := readAll(t, filepath.Join(dir, "nsec_sll_tcp_handshake.pcap"))
	// Values from tshark -T fields -e frame.time_epoch.
	want := []int64{1418145369924505488, 1418145370052027262, 1418145370052115157}
	if len(rec.packets) != len(want) {
		t.Fatalf("got %d packets, want %d", len(rec.packets), len(want))
	}
	for i, p := range rec.packets {
		if p.Timestamp.UnixNano() != want[i] {
			t.Errorf("packet %d: %d, want %d", i+1, p.Timestamp.UnixNano(), want[i])
		}
	}

	// This one is a nanosecond file whose clock only ticked in
	// microseconds (tshark shows ...560000): the fraction field holds
	// 732560000, which read as microseconds would add 732 seconds.
	_, rec = readAll(t, filepath.Join(dir, "http11_nsec_get_to_port22.pcap"))
	if len(rec.packets) != 9 {
		t.Fatalf("got %d packets, want 9", len(rec.packets))
	}
	if got := epoch(rec.packets[0].Timestamp); got != "1770126425.732560000" {
		t.Errorf("first packet at %s, tshark says 1770126425.732560000", got)
	}
	if got := epoch(rec.packets[8].Timestamp); got != "1770126426.041811000" {
		t.Errorf("last packet at %s, tshark says 1770126426.041811000", got)
	}
}

// TestMultiInterfaceTimestamps computes each timestamp by hand from the
// EPB bytes (interface 0 counts nanoseconds, interface 1 microseconds, as
// their IDBs' if_tsresol say) and also checks tshark's values.
func TestMultiInterfaceTimestamps(t *testing.T) {
	dir := corpusDir(t)
	path := filepath.Join(dir, "pcapng_multi_interface_ns_us.pcapng")
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, rec := readAll(t, path)
	wantIface := []int{0, 0, 1, 1, 1, 1}
	tshark := []string{"1767663089.500330493", "1767663089.514291940", "1767663437.111897000",
		"1767663437.126460000", "1767663437.128303000", "1767663437.140942000"}
	if len(rec.packets) != len(wantIface) {
		t.Fatalf("got %d packets, want %d", len(rec.packets), len(wantIface))
	}
	le := binary.LittleEndian
	for i, p := range rec.packets {
		if p.Interface != wantIface[i] {
			t.Errorf("packet %d: interface %d, want %d", i+1, p.Interface, wantIface[i])
		}
		b := file[p.Offset:]
		if le.Uint32(b[0:4]) != blockEPB || int(le.Uint32(b[8:12])) != wantIface[i] {
			t.Fatalf("packet %d: no EPB for interface %d at offset %d", i+1, wantIface[i], p.Offset)
		}
		units := int64(le.Uint32(b[12:16]))<<32 | int64(le.Uint32(b[16:20]))
		want := time.Unix(0, units) // nanoseconds
		if wantIface[i] == 1 {
			want = time.Unix(units/1e6, units%1e6*1000) // microseconds
		}
		if !p.Timestamp.Equal(want) {
			t.Errorf("packet %d: %v, want %v", i+1, p.Timestamp, want)
		}
		if got := epoch(p.Timestamp); got != tshark[i] {
			t.Errorf("packet %d: %s, tshark says %s", i+1, got, tshark[i])
		}
	}
}

func epoch(ts time.Time) string {
	return fmt.Sprintf("%d.%09d", ts.Unix(), ts.Nanosecond())
}

// TestThreeSections checks the file with three sections in alternating
// byte orders, six interfaces, Simple Packet Blocks and Custom Blocks
// against what tshark 4.0 shows for it.
func TestThreeSections(t *testing.T) {
	dir := corpusDir(t)
	_, rec := readAll(t, filepath.Join(dir, "pcapng_3sections_be_le_mixed_linktypes.pcapng"))
	type want struct {
		iface, origlen, caplen int
		link                   uint16
		ts                     string
	}
	wants := []want{
		{0, 314, 96, 1, "1340954905.298858000"},
		{0, 342, 96, 1, "1340954905.298858000"},
		{1, 168, 168, 0, "1340954905.301858000"},
		{0, 314, 128, 1, "1340954905.301858000"}, // SPB: previous packet's time
		{0, 342, 128, 1, "1340954905.298858000"},
		{0, 314, 128, 1, "1340954905.298858000"}, // SPB
		{0, 342, 128, 1, "1340954905.298858000"},
		{1, 168, 168, 0, "1340954905.301858000"},
	}
	if len(rec.packets) != len(wants) {
		t.Fatalf("got %d packets, want %d", len(rec.packets), len(wants))
	}
	for i, p := range rec.packets {
		w := wants[i]
		got := want{p.Interface, p.OrigLen, len(p.Data), p.LinkType, epoch(p.Timestamp)}
		if got != w {
			t.Errorf("packet %d: got %+v, want %+v", i+1, got, w)
		}
	}
}

// TestDecryptionSecrets checks that the DSB's TLS key log reaches a
// SecretsEmitter before the first packet, and is announced as a Status.
func TestDecryptionSecrets(t *testing.T) {
	dir := corpusDir(t)
	_, rec := readAll(t, filepath.Join(dir, "pcapng_dsb_tls_keys_decryptable.pcapng"))
	if len(rec.secrets) != 1 {
		t.Fatalf("got %d secrets, want 1", len(rec.secrets))
	}
	if rec.kinds[0] != SecretsTLSKeyLog {
		t.Errorf("secrets kind 0x%x, want TLS key log", rec.kinds[0])
	}
	if !bytes.HasPrefix(rec.secrets[0], []byte("CLIENT_RANDOM ")) {
		t.Errorf("secrets start with %q, want a key log", rec.secrets[0][:min(20, len(rec.secrets[0]))])
	}
	if lines := bytes.Count(rec.secrets[0], []byte("\n")); lines < 1 {
		t.Errorf("key log has no complete line: %q", rec.secrets[0])
	}
	first := -1
	for i, e := range rec.events {
		if e.what == "secret" {
			first = i
			break
		}
	}
	if first < 0 || firstPacket(rec.events) < first {
		t.Errorf("secrets must be delivered before the first packet")
	}
	if len(rec.statuses) != 1 || rec.statuses[0].Kind != "secrets" || rec.statuses[0].Level != sources.Info {
		t.Errorf("want one info status about the secrets, got %+v", rec.statuses)
	}
}

func firstPacket(ev []event) int {
	for i, e := range ev {
		if e.what == "packet" {
			return i
		}
	}
	return len(ev)
}

// TestTshark compares timestamps, lengths and interface ids with tshark
// for a few files, when tshark is installed.
func TestTshark(t *testing.T) {
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed; skipping the cross-check")
	}
	if testing.Short() {
		t.Skip("skipping the tshark cross-check in -short mode")
	}
	dir := corpusDir(t)
	for _, name := range []string{
		"pcapng_multi_interface_ns_us.pcapng", "nsec_sll_tcp_handshake.pcap",
		"http11_nsec_get_to_port22.pcap", "grpc_bidi_streaming.pcapng",
		"tls_corrupt_record_header.pcap", "websocket_ping_pong_sll.pcap",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			// tshark exits non-zero on damaged files but still prints
			// what it read, so only its output is used.
			out, _ := exec.Command(bin, "-n", "-r", path, "-T", "fields", "-e", "frame.time_epoch",
				"-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.interface_id").Output()
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			_, rec := readAll(t, path)
			if len(lines) != len(rec.packets) {
				t.Fatalf("tshark lists %d frames, we read %d", len(lines), len(rec.packets))
			}
			for i, line := range lines {
				f := strings.Split(line, "\t")
				p := rec.packets[i]
				iface := "0"
				if len(f) > 3 && f[3] != "" {
					iface = f[3]
				}
				got := []string{epoch(p.Timestamp), strconv.Itoa(p.OrigLen), strconv.Itoa(len(p.Data)),
					strconv.Itoa(p.Interface)}
				if want := []string{f[0], f[1], f[2], iface}; strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("frame %d: got %v, tshark %v", i+1, got, want)
				}
			}
		})
	}
}
