package main

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources/pcapfile"
)

// TestExportShownLeakCorpus is the leak test for the UI's x key: its
// pass one decoded nothing (the UI hands in what it shows), so it must
// follow the capture's streams again to find values split across
// segments, chunks, frames and messages. Masked, tshark must find none
// of the planted secrets of the TCP captures; unmasked, every one.
func TestExportShownLeakCorpus(t *testing.T) {
	needTshark(t)
	secrets := loadPlanted(t)
	leak, err := filepath.Abs(filepath.Join("..", "..", "testdata", "leak"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	t.Chdir(leak) // the UI finds a capture again by its name
	checked := 0
	for _, c := range leakCaptures {
		if c.name == "dns" { // UDP: masked per datagram, no stream to follow
			continue
		}
		src, err := pcapfile.Open(c.file)
		if err != nil {
			t.Fatal(err)
		}
		store := decode.NewStore()
		if err := runPipeline(context.Background(), []input{{src: src}}, nil, store, nil); err != nil {
			t.Fatal(err)
		}
		exs, fls := store.Exchanges(), store.Flows()
		for _, masked := range []bool{true, false} {
			out := filepath.Join(tmp, c.name+map[bool]string{true: "-masked", false: "-plain"}[masked]+".pcapng")
			if err := exportShown(context.Background(), out, slices.Values(exs), fls, masked); err != nil {
				t.Fatalf("%s: %v", c.file, err)
			}
			view := tsharkView(t, out, c.decodeAs)
			for _, s := range secrets {
				if s.capture != c.name {
					continue
				}
				checked++
				if got := s.in(view); got == masked {
					if masked {
						t.Errorf("%s, masked UI export: secret %s (%s) is readable", c.file, s.name, s.where)
					} else {
						t.Errorf("%s, unmasked UI export: secret %s (%s) not found: the test would not see it leak", c.file, s.name, s.where)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no planted secrets checked")
	}
	t.Logf("%d secret checks over masked and unmasked UI exports", checked)
}
