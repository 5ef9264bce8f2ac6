package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/export/tracemask/tracemasktest"
	"github.com/tapview/tapview/sources"
	s3store "github.com/tapview/tapview/storage/s3"
	"github.com/tapview/tapview/storage/s3/s3test"
	"github.com/tapview/tapview/storage/upload"
)

// leakTraces are the Envoy traces of the leak corpus
// (scripts/record-leak-traces.sh: the recorded captures' traffic as
// Envoy's HTTP tap and transport socket tap record it) and the captures
// whose secrets they carry.
var leakTraces = []struct {
	file     string
	captures []string
}{
	{"taps-http.pb_length_delimited", []string{"h1", "h2", "h2up", "grpc"}},
	{"taps-socket.pb_length_delimited", []string{"h1", "h2", "h2up", "grpc", "ws", "wsraw", "dnstcp"}},
}

func leakTracePath(file string) string { return filepath.Join("..", "..", "testdata", "leak", file) }

// checkTraceLeaks looks for the planted secrets of captures in
// everything a reader gets out of the trace file at path (every decoded
// value, bodies decoded, socket bytes joined: tracemasktest.View). A
// masked file must show none, an unmasked one all (else the check
// would not see a leak). It returns how many it found.
func checkTraceLeaks(t *testing.T, what, path string, captures []string, masked bool) (found, planted int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	view := tracemasktest.View(tracemasktest.ReadFile(t, path), raw)
	for _, s := range loadPlanted(t) {
		if !slices.Contains(captures, s.capture) {
			continue
		}
		planted++
		if s.in(view) {
			found++
			if masked {
				t.Errorf("%s: secret %s (%s) is readable", what, s.name, s.where)
			}
		} else if !masked {
			t.Errorf("%s: secret %s (%s) not found: the test would not see it leak", what, s.name, s.where)
		}
	}
	return found, planted
}

// openedExchanges is what `tapview open -o json` prints of a trace file:
// method, path without the query (masking overwrites query values),
// status and state of each exchange, sorted (a masked streamed trace is
// written when it completes, after later buffered ones).
func openedExchanges(t *testing.T, path string) []string {
	t.Helper()
	out, stderr, err := runTapview(t, nil, "open", "-o", "json", "--no-mask", path)
	if err != nil {
		t.Fatalf("tapview open %s: %v\n%s", path, err, stderr)
	}
	var list []string
	for _, e := range jsonExchanges[struct {
		Proto, Method, Path, State string
		Status                     int
	}](t, out) {
		p, _, _ := strings.Cut(e.Path, "?")
		list = append(list, fmt.Sprintf("%s %s %s %d %s", e.Proto, e.Method, p, e.Status, e.State))
	}
	slices.Sort(list)
	return list
}

// TestExportTracesLeakCorpus: `tapview export TRACES -w
// OUT.pb_length_delimited` keeps Envoy traces traces; masked, none of
// the planted secrets is readable in them, with --no-mask all are, and
// `tapview open` finds the same exchanges in both.
func TestExportTracesLeakCorpus(t *testing.T) {
	dir := t.TempDir()
	for _, lt := range leakTraces {
		in := leakTracePath(lt.file)
		masked, plain := filepath.Join(dir, "masked-"+lt.file), filepath.Join(dir, "plain-"+lt.file)
		if msg := mustExport(t, in, "-w", masked); !strings.Contains(msg, "masked") || strings.Contains(msg, "NOT masked") {
			t.Errorf("masked export says %q", msg)
		}
		if msg := mustExport(t, in, "-w", plain, "--no-mask"); !strings.Contains(msg, "NOT masked") {
			t.Errorf("--no-mask export says %q", msg)
		}
		mf, n := checkTraceLeaks(t, "masked "+lt.file, masked, lt.captures, true)
		pf, _ := checkTraceLeaks(t, "unmasked "+lt.file, plain, lt.captures, false)
		a, b, c := openedExchanges(t, in), openedExchanges(t, plain), openedExchanges(t, masked)
		if len(a) == 0 || !slices.Equal(a, b) || !slices.Equal(a, c) {
			t.Errorf("%s: tapview open finds\n%s\nin the input,\n%s\nin the --no-mask export and\n%s\nin the masked one",
				lt.file, strings.Join(a, "\n"), strings.Join(b, "\n"), strings.Join(c, "\n"))
		}
		t.Logf("%s: %d exchanges; planted secrets readable: %d of %d unmasked, %d masked", lt.file, len(a), pf, n, mf)
	}
}

// uploadMaskedLeakTraces records the leak corpus's Envoy traces to a
// real S3 server (SeaweedFS on loopback; TestUploadMaskedLeakCorpus's,
// one start fewer) the way --upload does, masked and with --no-mask: the
// segment stays a trace segment (.pb_length_delimited, tagged
// masked=true or false), the masked one holds none of the planted
// secrets, the unmasked one all, and `tapview open` finds the same
// exchanges in both.
func uploadMaskedLeakTraces(t *testing.T, srv *s3test.Server) {
	bucket := srv.Bucket(t, "leaktraces")
	var traces []sources.Trace
	var captures []string
	for _, lt := range leakTraces {
		for _, w := range tracemasktest.ReadFile(t, leakTracePath(lt.file)) {
			traces = append(traces, sources.Trace{Wrapper: w, Source: "taps", Arrival: time.Now(), Ordinal: uint64(len(traces) + 1)})
		}
		for _, c := range lt.captures {
			if !slices.Contains(captures, c) {
				captures = append(captures, c)
			}
		}
	}
	var opened [2][]string
	for i, masked := range []bool{true, false} {
		name := map[bool]string{true: "masked", false: "unmasked"}[masked]
		_, key, local := recordOne(t, srv, bucket, "taps", name, masked, s3store.ExtTraces, func(rec *upload.Recorder) {
			for _, tr := range traces {
				// The recorder writes the wrapper as it is; the sealer
				// masks its own copy read back from the segment file.
				rec.Trace(tr)
			}
		})
		if seg, ok := s3store.ParseKey(key); !ok || seg.Ext != s3store.ExtTraces {
			t.Errorf("%s: object %s is not a trace segment", name, key)
		}
		if n := len(tracemasktest.ReadFile(t, local)); n != len(traces) {
			t.Errorf("%s segment holds %d traces, %d recorded", name, n, len(traces))
		}
		found, planted := checkTraceLeaks(t, name+" segment "+key, local, captures, masked)
		opened[i] = openedExchanges(t, local)
		t.Logf("%s segment %s: %d of %d planted secrets readable, %d exchanges", name, key, found, planted, len(opened[i]))
	}
	if len(opened[0]) == 0 || !slices.Equal(opened[0], opened[1]) {
		t.Errorf("tapview open finds\n%s\nin the masked segment and\n%s\nin the unmasked one", strings.Join(opened[0], "\n"), strings.Join(opened[1], "\n"))
	}
}
