package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources/pcapfile"
	"github.com/tapview/tapview/ui"
)

// TestStreamMatchesTshark reads a download with retransmissions and
// out-of-order segments through the bytes view's reader and compares
// each direction with tshark's Follow TCP Stream of the same connection:
// same bytes, in the same order.
func TestStreamMatchesTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (bash .ci/run installs it)")
	}
	for _, c := range []struct {
		file    string
		stream  string
		retrans bool
	}{
		{"http11_download_retrans_ooo.pcap", "1", true},
		{"http11_range_keepalive_out_of_order.pcap", "0", false},
		{"http11_pipelined_40req_retrans.pcap", "0", true},
	} {
		t.Run(c.file, func(t *testing.T) { compareFollow(t, c.file, c.stream, c.retrans) })
	}
}

func compareFollow(t *testing.T, file, stream string, wantRetrans bool) {
	path := filepath.Join(corpustest.Dir(t), file)
	out, err := exec.Command("tshark", "-r", path, "-q", "-z", "follow,tcp,raw,"+stream).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var want [2]bytes.Buffer // client, server
	var nodes [2]string
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "Node 0: "):
			nodes[0] = strings.TrimPrefix(l, "Node 0: ")
		case strings.HasPrefix(l, "Node 1: "):
			nodes[1] = strings.TrimPrefix(l, "Node 1: ")
		case strings.HasPrefix(l, "====") || strings.Contains(l, ":") || strings.TrimSpace(l) == "":
		default:
			dir := 0
			if strings.HasPrefix(l, "\t") {
				dir = 1
			}
			b, err := hex.DecodeString(strings.TrimSpace(l))
			if err != nil {
				t.Fatalf("tshark line %q: %v", l, err)
			}
			want[dir].Write(b)
		}
	}
	// Every packet of the file is offered; the reader keeps the ones of
	// this connection (the decoder's Ordinals list would hold just those).
	n := packetCount(t, path)
	f := &decode.Flow{Source: filepath.Base(path), Transport: "tcp",
		Client: netip.MustParseAddrPort(nodes[0]), Server: netip.MustParseAddrPort(nodes[1])}
	for i := uint64(1); i <= uint64(n); i++ {
		f.Ordinals = append(f.Ordinals, i)
	}
	src, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := flowChunks(context.Background(), src, f)
	if err != nil {
		t.Fatal(err)
	}
	var got [2]bytes.Buffer
	retrans, early := 0, 0
	for _, c := range chunks {
		dir := 1
		if c.FromClient {
			dir = 0
		}
		got[dir].Write(c.Data)
		if strings.Contains(c.Note, "retransmission") {
			retrans++
		}
		if strings.Contains(c.Note, "early") {
			early++
		}
	}
	for dir := range got {
		if want[dir].Len() == 0 || !bytes.Equal(got[dir].Bytes(), want[dir].Bytes()) {
			t.Errorf("direction %d: %d bytes, tshark follows %d; equal=%v", dir, got[dir].Len(), want[dir].Len(), bytes.Equal(got[dir].Bytes(), want[dir].Bytes()))
		}
	}
	if wantRetrans && retrans == 0 {
		t.Errorf("the capture has retransmissions; none noted")
	}
	t.Logf("%d chunks, %d retransmissions, %d early segments", len(chunks), retrans, early)
}

func packetCount(t *testing.T, path string) int {
	t.Helper()
	out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatal(err)
	}
	return len(strings.Fields(string(out)))
}

// TestStreamNotKept: sources without a re-readable capture say so.
func TestStreamNotKept(t *testing.T) {
	r := streamReader{}
	if _, err := r.Stream(context.Background(), &decode.Flow{Source: "envoy"}, true); err != ui.ErrNoBytes {
		t.Errorf("a flow without packets: %v, want ErrNoBytes", err)
	}
	if _, err := r.Stream(context.Background(), &decode.Flow{Source: "stdin", Ordinals: []uint64{1}}, true); err != ui.ErrNoBytes {
		t.Errorf("a flow from stdin: %v, want ErrNoBytes", err)
	}
}
