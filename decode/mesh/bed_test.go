package mesh_test

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/mesh"
	"github.com/tapview/tapview/sources"
)

// The mesh bed's recordings (scripts/meshbed.sh --record): a pod with
// Istio's real nat rules and a proxy that reads SO_ORIGINAL_DST, captured
// with tcpdump -i any in its namespace, and the proxy's own log of what
// it did. cmd/tapview's TestMeshBedRecordings holds the command's output
// (each request once, links, legs, the external lens) to that log; these
// tests look at what only the package shows: the both-legs view and its
// pairing, and the Wire's rewrite.

const bedDir = "testdata/meshbed"

type bedRecord struct {
	Dir     string `json:"dir"`
	Kind    string `json:"kind"`
	Down    string `json:"down"`
	Orig    string `json:"orig"`
	MTLS    bool   `json:"mtls"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	SNI     string `json:"sni"`
	Route   string `json:"route"`
	Verdict string `json:"verdict"`
	UpLocal string `json:"up_local"`
}

type bedApp struct {
	Dir string `json:"dir"`
	URL string `json:"url"`
}

func readLines[T any](t *testing.T, name string) []T {
	t.Helper()
	f, err := os.Open(filepath.Join(bedDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(bedDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bedPackets(t *testing.T) []sources.Packet {
	t.Helper()
	pkts, err := corpustest.ReadPath(filepath.Join(bedDir, "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

// TestBedBothLegs: in the view with both legs, every network-leg
// exchange that duplicates an app-leg one (plaintext passthrough and
// inbound from outside the mesh; with keys the app's TLS and the mTLS
// between sidecars) is hidden from the default output, linked to the
// app-leg flow of its twin, and the twin links back; as many as the
// proxy passed on over a leg the decoder could read.
func TestBedBothLegs(t *testing.T) {
	pkts := bedPackets(t)
	truth := readLines[bedRecord](t, "truth.jsonl")
	apps := readLines[bedApp](t, "app.jsonl")
	appKeys, sidecarKeys := readFile(t, "app-keys.log"), readFile(t, "sidecar-keys.log")
	for _, c := range []struct {
		name          string
		keys          []byte
		app, sidecars bool
	}{
		{"no keys", nil, false, false},
		{"app keys", appKeys, true, false},
		{"app and sidecar keys", append(append([]byte(nil), appKeys...), sidecarKeys...), true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := 0
			for _, r := range truth {
				switch {
				case r.Kind == "http" && r.Dir == "outbound" && r.Route == "passthrough" && r.Verdict == "passed":
					want++ // plaintext on both legs
				case r.Kind == "http" && r.Dir == "outbound" && r.Route == "mesh" && c.sidecars:
					want++
				case r.Kind == "http" && r.Dir == "inbound" && (!r.MTLS || c.sidecars):
					want++
				case r.Kind == "tcp" && r.Verdict == "passed" && c.app:
					for _, a := range apps {
						if a.Dir == "outbound" && strings.HasPrefix(a.URL, "https://"+r.SNI+"/") {
							want++ // the app's TLS, read on both legs
						}
					}
				}
			}
			shown, all := newCollector(), newCollector()
			l := mesh.NewLabeler(shown, mesh.Options{All: all})
			decodeInto(pkts, c.keys, l)
			if !l.Meshed() {
				t.Fatal("no sidecar found")
			}
			hidden := 0
			for _, e := range all.exchanges() {
				if shown.ex[e.ID] != nil {
					continue
				}
				hidden++
				if e.Leg != decode.LegNetwork || e.Linked == 0 {
					t.Errorf("hidden %s %s%s: leg %q linked %d", e.Method(), e.Host(), e.Path(), e.Leg, e.Linked)
					continue
				}
				var twin *decode.Exchange
				for _, a := range shown.exchanges() {
					if a.FlowID == e.Linked && a.Linked == e.FlowID && a.Method() == e.Method() && a.Path() == e.Path() {
						twin = a
					}
				}
				if twin == nil || twin.Leg != decode.LegApp || twin.Direction != e.Direction {
					t.Errorf("hidden %s %s%s on flow %d: no app-leg twin on flow %d linked back", e.Method(), e.Host(), e.Path(), e.FlowID, e.Linked)
				}
			}
			if hidden != want || l.Stats().Duplicates != int64(want) {
				t.Errorf("%d network-leg duplicates hidden (stats %d), the proxy passed %d on over a readable leg", hidden, l.Stats().Duplicates, want)
			}
		})
	}
}

// TestBedWire: every connection the app made through the outbound
// redirect is one flow with the original destination, and the passed-
// through TLS is counted once, on the app leg, in the external lens.
func TestBedWire(t *testing.T) {
	truth := readLines[bedRecord](t, "truth.jsonl")
	shown := newCollector()
	x := mesh.NewExternal(shown, mesh.ExternalOptions{})
	decodeInto(bedPackets(t), nil, mesh.NewLabeler(x, mesh.Options{}))
	byClient := map[netip.AddrPort][]*decode.Flow{}
	for _, f := range shown.flows {
		byClient[f.Client] = append(byClient[f.Client], f)
	}
	for _, r := range truth {
		if r.Dir != "outbound" {
			continue
		}
		fs := byClient[netip.MustParseAddrPort(r.Down)]
		if len(fs) != 1 || fs[0].Server != netip.MustParseAddrPort("127.0.0.1:15001") || fs[0].OrigDst == nil || *fs[0].OrigDst != netip.MustParseAddrPort(r.Orig) ||
			fs[0].Leg != decode.LegApp {
			t.Errorf("app connection from %s to %s: flows %+v", r.Down, r.Orig, fs)
		}
		if r.Kind == "tcp" && r.Verdict == "passed" {
			if g := findGroup(x.Groups(), r.SNI); g == nil || g.Bytes != fs[0].BytesC2S+fs[0].BytesS2C || g.Requests != 1 {
				t.Errorf("%s: group %+v, app-leg flow %d+%d bytes", r.SNI, g, fs[0].BytesC2S, fs[0].BytesS2C)
			}
		}
	}
}
