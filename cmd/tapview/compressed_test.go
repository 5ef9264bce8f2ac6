package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// gzipCorpus compresses a corpus capture with the real gzip tool into
// dir under name.
func gzipCorpus(t *testing.T, corpusName, dir, name string) string {
	t.Helper()
	if _, err := exec.LookPath("gzip"); err != nil {
		t.Skip("gzip not installed")
	}
	out := filepath.Join(dir, name)
	raw, err := exec.Command("gzip", "-c", filepath.Join(corpustest.Dir(t), corpusName)).Output()
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	if err := os.WriteFile(out, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCompressedCaptureCommands runs what re-reads a capture over a
// gzip-compressed one: `open -o json --bodies` gives the same exchanges
// and bodies as the plain file, `export` writes a pcapng tshark counts
// the same as the plain file (export reads its input twice, so it
// decompresses twice), and the UI's bytes view re-reads a flow's packets
// from the compressed file.
func TestCompressedCaptureCommands(t *testing.T) {
	const name = "http11_keepalive_5req_1conn.pcap"
	dir := t.TempDir()
	gz := gzipCorpus(t, name, dir, "keepalive.pcap.gz")
	plain := filepath.Join(corpustest.Dir(t), name)

	lines := func(path string) []map[string]any {
		out, stderr, err := runTapview(t, nil, "open", "-o", "json", "--bodies", "--no-mask", path)
		if err != nil {
			t.Fatalf("open %s: %v\n%s", path, err, stderr)
		}
		var ex []map[string]any
		for _, l := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(l, &m); err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			if m["type"] == "exchange" {
				delete(m, "source")
				ex = append(ex, m)
			}
		}
		return ex
	}
	want, got := lines(plain), lines(gz)
	if len(want) != 5 || len(got) != len(want) {
		t.Fatalf("%d exchanges from the .gz, %d from the plain file", len(got), len(want))
	}
	for i := range want {
		w, _ := json.Marshal(want[i])
		g, _ := json.Marshal(got[i])
		if !bytes.Equal(w, g) || got[i]["resp_body"] == nil {
			t.Errorf("exchange %d:\n%s\nplain:\n%s", i, g, w)
		}
	}

	needTshark(t)
	out := filepath.Join(dir, "out.pcapng")
	mustExport(t, gz, "--no-mask", "-w", out)
	if g, w := countWithTshark(t, out, ""), countWithTshark(t, plain, ""); g != w || w.reqs != 5 {
		t.Errorf("export of the .gz: %+v, the plain file %+v", g, w)
	}

	// The bytes view finds the file by its source name.
	t.Chdir(dir)
	src, err := pcapfile.Open("keepalive.pcap.gz")
	if err != nil {
		t.Fatal(err)
	}
	store := decode.NewStore()
	dec := tcp.NewDecoder(store, tcp.Config{})
	if err := src.Run(context.Background(), packetFunc(dec.Packet)); err != nil {
		t.Fatal(err)
	}
	dec.Finish(time.Now())
	flows := store.Flows()
	if len(flows) != 1 {
		t.Fatalf("%d flows", len(flows))
	}
	seq, err := streamReader{}.Stream(context.Background(), flows[0], false)
	if err != nil {
		t.Fatalf("bytes view over the .gz: %v", err)
	}
	var c2s, s2c int64
	var text strings.Builder
	for c, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		if c.FromClient {
			c2s += int64(len(c.Data))
		} else {
			s2c += int64(len(c.Data))
		}
		text.Write(c.Data)
	}
	if c2s != flows[0].BytesC2S || s2c != flows[0].BytesS2C || strings.Count(text.String(), "HTTP/1.1 200") != 5 {
		t.Errorf("bytes view: %d/%d bytes, flow %d/%d", c2s, s2c, flows[0].BytesC2S, flows[0].BytesS2C)
	}
}

// packetFunc adapts a packet handler to sources.Emitter.
type packetFunc func(*sources.Packet)

func (f packetFunc) Packet(p sources.Packet) { f(&p) }
func (f packetFunc) Status(sources.Status)   {}
