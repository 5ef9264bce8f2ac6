package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/taptrace"
	"github.com/tapview/tapview/sources/taptrace/tracetest"
)

// hostileRunes are what a terminal or editor would act on instead of
// showing: ESC, CSI and OSC as C1 controls, and a right-to-left override.
const hostilePath = "/pets\x1b[2J\u009b31m\u009d0;pwned\a\u202eevil"

// TestExportHostileTraceFile exports a trace file whose name and content
// carry terminal controls: the warnings on stderr must show them as
// escapes, and the JSON must escape C1 controls and bidi overrides while
// still decoding to the original text.
func TestExportHostileTraceFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "taps\x1b]0;title\a\u009b2J.pb_length_delimited")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	rec := taptrace.NewRecorder(f)
	for i, w := range []*tapv3.TraceWrapper{tracetest.HTTPBuffered(1, hostilePath, 200, "ok")} {
		tr := sources.Trace{Wrapper: w, Source: "taps", Arrival: tracetest.Base(), Ordinal: uint64(i + 1)}
		if err := rec.Record(&tr); err != nil {
			t.Fatal(err)
		}
	}
	// A damaged record after the good one makes the source warn.
	if _, err := f.Write([]byte{0x05, 0xff, 0xff, 0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// JSON carries notes in the file; the pcapng export prints them.
	stderr := mustExport(t, path, "-w", filepath.Join(dir, "out.pcapng"), "--no-mask")
	if !strings.Contains(stderr, "tapview: taps") {
		t.Fatalf("no warning naming the source on stderr:\n%q", stderr)
	}
	for _, bad := range []string{"\x1b", "\u009b", "\u009d", "\a"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr carries a raw %q:\n%q", bad, stderr)
		}
	}
	if !strings.Contains(stderr, `\x1b`) {
		t.Errorf("stderr does not show the ESC as an escape:\n%q", stderr)
	}

	out := filepath.Join(dir, "out.jsonl")
	mustExport(t, path, "-w", out, "--no-mask")
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"\x1b", "\u009b", "\u009d", "\u202e", "\a"} {
		if bytes.Contains(data, []byte(bad)) {
			t.Errorf("JSON export carries a raw %q", bad)
		}
	}
	for _, esc := range []string{`\u001b`, `\u009b`, `\u009d`, `\u202e`} {
		if !bytes.Contains(data, []byte(esc)) {
			t.Errorf("JSON export lacks the escape %s", esc)
		}
	}
	found := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line is not JSON: %v\n%s", err, sc.Bytes())
		}
		if m["type"] == "exchange" && m["path"] == hostilePath {
			found = true
		}
	}
	if !found {
		t.Errorf("no exchange decodes back to the original path %q:\n%s", hostilePath, data)
	}
}
