package tracemask_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/export/tracemask"
	"github.com/tapview/tapview/export/tracemask/tracemasktest"
)

// leakDir is the leak corpus: captures recorded by scripts/record-leak.sh
// and their Envoy traces written by scripts/record-leak-traces.sh.
const leakDir = "../../testdata/leak"

// planted is one secret of testdata/leak/secrets.tsv.
type planted struct{ name, capture, value, where string }

func loadSecrets(t *testing.T) []planted {
	t.Helper()
	f, err := os.Open(filepath.Join(leakDir, "secrets.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []planted
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") || sc.Text() == "" {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 4 {
			t.Fatalf("secrets.tsv: bad line %q", sc.Text())
		}
		out = append(out, planted{c[0], c[1], c[2], c[3]})
	}
	return out
}

// piece is how long a run of a secret must be to count as readable:
// half a secret left behind is a leak too.
const piece = 8

func (s planted) in(view []byte) bool {
	for i := 0; i+piece <= len(s.value); i++ {
		if bytes.Contains(view, []byte(s.value[i:i+piece])) {
			return true
		}
	}
	return false
}

// TestLeakCorpusTraces masks the Envoy traces of the leak corpus (real
// traffic: scripts/record-leak-traces.sh) and looks for the planted
// secrets in everything a reader can get out of the result (traceView):
// the unmasked traces show every secret of the captures they were made
// from (so the view would see a leak), the masked ones none, and the
// masked traces still decode to the same exchanges.
func TestLeakCorpusTraces(t *testing.T) {
	secrets := loadSecrets(t)
	for _, tc := range []struct {
		file     string
		captures []string
		// notThere are secrets the trace kind cannot carry: an HTTP tap
		// sees HTTP exchanges, not what follows an upgrade.
		notThere []string
	}{
		{"taps-http.pb_length_delimited", []string{"h1", "h2", "h2up", "grpc"}, nil},
		{"taps-socket.pb_length_delimited", []string{"h1", "h2", "h2up", "grpc", "ws", "wsraw", "dnstcp"}, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(leakDir, tc.file)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			orig := tracemasktest.ReadFile(t, path)
			plainView := tracemasktest.View(orig, raw)
			var buf bytes.Buffer
			w := tracemask.NewWriter(&buf, mask.Default())
			for _, tr := range tracemasktest.ReadFile(t, path) {
				if err := w.Write(tr); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			masked := tracemasktest.Read(t, bytes.NewReader(buf.Bytes()))
			if len(masked) != len(orig) {
				t.Errorf("%d traces masked, %d read", len(masked), len(orig))
			}
			maskedView := tracemasktest.View(masked, buf.Bytes())
			want, inPlain, inMasked := 0, 0, 0
			for _, s := range secrets {
				if !contains(tc.captures, s.capture) {
					continue
				}
				want++
				if s.in(plainView) {
					inPlain++
				} else {
					t.Errorf("unmasked traces: secret %s (%s) not found: the test would not see it leak", s.name, s.where)
				}
				if s.in(maskedView) {
					inMasked++
					t.Errorf("masked traces: secret %s (%s) is readable", s.name, s.where)
				}
			}
			t.Logf("%s: %d traces; unmasked %d of %d planted secrets readable, masked %d; stats %+v",
				tc.file, len(orig), inPlain, want, inMasked, w.Stats())
			a, b := tracemasktest.Summary(orig), tracemasktest.Summary(masked)
			if len(a) == 0 || strings.Join(a, "\n") != strings.Join(b, "\n") {
				t.Errorf("exchanges of the traces:\n%s\nof the masked traces:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
