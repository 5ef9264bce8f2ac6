package dns

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode/decodetest"
	"github.com/tapview/tapview/sources/pcapfile"
)

// TestDynamicUpdate reads Zeek's dns/dynamic-update capture
// (testdata/conformance): two RFC 2136 UPDATE exchanges whose
// prerequisite (CNAME, class NONE) and deletions (AAAA and A, class ANY)
// carry no rdata, one signed with TSIG and refused. Each exchange must be
// decoded without error, with tshark's id, zone name and response code.
func TestDynamicUpdate(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "conformance", "zeek", "dns-dynamic-update.pcap")
	src, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	col := decodetest.NewCollector(t)
	d := newDecoder(col)
	if err := src.Run(context.Background(), decoderEmitter{d}); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	d.Finish(time.Time{})
	var got []string
	for _, e := range col.Exchanges() {
		if e.Proto == "dns" && e.DNS != nil && e.Request != nil && e.Response != nil {
			l := fmt.Sprintf("%d %s %s", e.DNS.ID, e.DNS.Name, e.DNS.Rcode)
			if e.Error != "" {
				l += " (" + e.Error + ")"
			}
			got = append(got, l)
			// The prerequisite (the answer section of an UPDATE) has no
			// data: its type alone, no trailing space.
			for _, a := range e.DNS.Answers {
				if a != strings.TrimSpace(a) {
					t.Errorf("answer %q", a)
				}
			}
		}
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (scripts/test-deps.sh installs it)")
	}
	raw, err := exec.Command("tshark", "-n", "-r", path, "-Y", "dns.flags.response == 1",
		"-T", "fields", "-e", "dns.id", "-e", "dns.qry.name", "-e", "dns.flags.rcode").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		c := strings.Split(l, "\t")
		id, _ := strconv.ParseUint(strings.TrimPrefix(c[0], "0x"), 16, 16)
		rc, _ := strconv.Atoi(c[2])
		want = append(want, fmt.Sprintf("%d %s %s", id, c[1], rcodeName(rc)))
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) != 2 || !slices.Equal(got, want) {
		t.Errorf("exchanges %q, tshark %q", got, want)
	}
}
