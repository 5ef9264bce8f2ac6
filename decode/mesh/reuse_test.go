package mesh

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

// jsonRecorder writes every publication down as it comes; with copies
// set it says it copies flows (it keeps nothing).
type jsonRecorder struct {
	buf    bytes.Buffer
	copies bool
}

func (r *jsonRecorder) put(kind string, v any) {
	b, _ := json.Marshal(v)
	r.buf.WriteString(kind)
	r.buf.Write(b)
	r.buf.WriteByte('\n')
}

func (r *jsonRecorder) Flow(f *decode.Flow)         { r.put("F ", f) }
func (r *jsonRecorder) Exchange(e *decode.Exchange) { r.put("X ", e) }
func (r *jsonRecorder) Note(s sources.Status)       { r.put("N ", s) }
func (r *jsonRecorder) CopiesFlows() bool           { return r.copies }

// TestLabelerCopiesFlows: a Labeler says it copies flows exactly when
// what it publishes to does, and then what it publishes is the same
// when each flow it is given is overwritten as soon as Flow returns (as
// the decoder's reused chunks are), with and without a sidecar (the
// mesh path keeps the latest version of each flow and republishes it
// when the other leg is found).
func TestLabelerCopiesFlows(t *testing.T) {
	yes, no := &jsonRecorder{copies: true}, &jsonRecorder{}
	for _, c := range []struct {
		out, all decode.Output
		want     bool
	}{{yes, nil, true}, {no, nil, false}, {yes, yes, true}, {yes, no, false}, {no, yes, false}} {
		if got := NewLabeler(c.out, Options{All: c.all}).CopiesFlows(); got != c.want {
			t.Errorf("out copies %v, all %v: CopiesFlows %v", c.out.(*jsonRecorder).copies, c.all, got)
		}
	}
	pod := netip.MustParseAddr("10.1.2.3")
	addrs := []netip.AddrPort{
		netip.AddrPortFrom(pod, 41000), netip.AddrPortFrom(pod, 41001),
		netip.MustParseAddrPort("127.0.0.1:15001"), netip.MustParseAddrPort("127.0.0.6:41002"),
		netip.MustParseAddrPort("10.96.0.5:9080"), netip.MustParseAddrPort("10.1.9.9:15006"),
	}
	for _, info := range []*PodInfo{nil, {IP: pod, Sidecar: true}} {
		want, got := &jsonRecorder{}, &jsonRecorder{copies: true}
		lw, lg := NewLabeler(want, Options{Pod: info}), NewLabeler(got, Options{Pod: info})
		r := rand.New(rand.NewPCG(1, 2))
		base := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
		var reused decode.Flow
		for step := 0; step < 3000; step++ {
			f := decode.Flow{
				ID: uint64(1 + r.IntN(200)), Source: "eth0", Transport: "tcp", Proto: "http/1.1",
				Client: addrs[r.IntN(len(addrs))], Server: addrs[r.IntN(len(addrs))],
				First: base, Last: base.Add(time.Duration(step) * 10 * time.Millisecond),
				PacketsC2S: int64(step), BytesS2C: int64(r.IntN(3)) * 100, State: decode.FlowOpen,
				SNI: []string{"", "api.example.com", "db.example.com"}[r.IntN(3)],
			}
			if r.IntN(5) == 0 {
				f.State = decode.FlowClosed
			}
			fresh := f
			lw.Flow(&fresh)
			reused = f
			lg.Flow(&reused)
			reused = decode.Flow{ID: 1 << 40, Source: "scribbled", Client: addrs[0], Server: addrs[0]}
		}
		if !bytes.Equal(want.buf.Bytes(), got.buf.Bytes()) {
			t.Errorf("pod %+v: publications differ when the given flows are overwritten after Flow", info)
		}
		if info != nil && !regexp.MustCompile(`"Linked":[1-9]`).Match(want.buf.Bytes()) {
			t.Errorf("no flow was linked to another: the mesh path's republication is not exercised")
		}
	}
}
