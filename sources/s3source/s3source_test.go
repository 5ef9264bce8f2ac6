package s3source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protodelim"

	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
	"github.com/tapview/tapview/sources/taptrace/tracetest"
	s3store "github.com/tapview/tapview/storage/s3"
	"github.com/tapview/tapview/storage/s3/s3test"
)

// collector keeps what a source emits.
type collector struct {
	mu     sync.Mutex
	pkts   []sources.Packet
	notes  []sources.Status
	traces []sources.Trace // what the source said, for failures
}

func (c *collector) Packet(p sources.Packet) { c.mu.Lock(); c.pkts = append(c.pkts, p); c.mu.Unlock() }
func (c *collector) Trace(tr sources.Trace) {
	c.mu.Lock()
	c.traces = append(c.traces, tr)
	c.mu.Unlock()
}
func (c *collector) Status(s sources.Status) {
	c.mu.Lock()
	c.notes = append(c.notes, s)
	c.mu.Unlock()
}

func runAll(t *testing.T, srcs []*Source) map[string]*collector {
	t.Helper()
	out := map[string]*collector{}
	for _, s := range srcs {
		c := &collector{}
		if err := s.Run(context.Background(), c); err != nil {
			t.Fatalf("%s: %v", s.Name(), err)
		}
		out[s.Name()] = c
	}
	return out
}

func readLocal(t *testing.T, path string) []sources.Packet {
	t.Helper()
	src, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	if err := src.Run(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	return c.pkts
}

// TestReadSegments stores two sources' captures as segments on a real S3
// server and reads them back: every packet, in order, with ordinals
// counted across segments; captures told apart; time ranges chosen from
// the listing; single objects; broken connections resumed.
func TestReadSegments(t *testing.T) {
	dir := corpustest.Dir(t)
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "tapview-read")
	web := filepath.Join(dir, "http11_pipelined_40req_retrans.pcap")
	doh := filepath.Join(dir, "h2c_prior_knowledge_doh_34streams.pcap")
	webSegs := srv.UploadSegments(t, bucket, "rec", "cap1", "ns/web-1", web, 10)
	srv.UploadSegments(t, bucket, "rec", "cap1", "doh", doh, 25)
	srv.UploadSegments(t, bucket, "rec", "cap2", "ns/web-1", web, 20)
	srv.Put(t, bucket, "plain/http.pcap", mustRead(t, web))
	c := srv.Client(t)
	ctx := context.Background()
	loc := func(p string) s3store.Location { return s3store.Location{Bucket: bucket, Prefix: p} }

	t.Run("one capture", func(t *testing.T) {
		prog := &Progress{}
		srcs, err := Plan(ctx, c, loc("rec/cap1/"), Range{}, prog)
		if err != nil {
			t.Fatal(err)
		}
		if len(srcs) != 2 || srcs[0].Name() != "doh" || srcs[1].Name() != "ns/web-1" || srcs[1].Segments() != len(webSegs) {
			t.Fatalf("sources = %v", names(srcs))
		}
		got := runAll(t, srcs)
		for name, path := range map[string]string{"ns/web-1": web, "doh": doh} {
			samePackets(t, name, got[name].pkts, readLocal(t, path))
		}
		done, total := prog.Bytes()
		if done != total || total != srcs[0].Size()+srcs[1].Size() {
			t.Errorf("progress %d of %d, want all of %d", done, total, srcs[0].Size()+srcs[1].Size())
		}
	})

	t.Run("several captures need a choice", func(t *testing.T) {
		_, err := Plan(ctx, c, loc("rec/"), Range{}, nil)
		if err == nil || !strings.Contains(err.Error(), "holds 2 captures") || !strings.Contains(err.Error(), "--since/--until") ||
			!strings.Contains(err.Error(), "cap1 (2 sources") {
			t.Errorf("error = %v", err)
		}
	})

	t.Run("time range", func(t *testing.T) {
		// From the middle of segment 2 to the end of segment 3 of web:
		// segments 2 and 3 of cap1's web source (and cap2's overlapping
		// ones), and only the packets inside.
		since := webSegs[1].Start.Add(webSegs[1].End.Sub(webSegs[1].Start) / 2)
		until := webSegs[2].End
		srcs, err := Plan(ctx, c, loc("rec/"), Range{Since: since, Until: until}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := runAll(t, srcs)
		c1 := got["ns/web-1 [cap1]"]
		if c1 == nil || len(srcs) != 2 {
			t.Fatalf("sources = %v; want web-1 of both captures (doh is from another time)", names(srcs))
		}
		var want []sources.Packet
		for _, p := range readLocal(t, web) {
			if !p.Timestamp.Before(since) && !p.Timestamp.After(until) {
				want = append(want, p)
			}
		}
		if len(c1.pkts) != len(want) || len(want) == 0 || len(want) >= 20 {
			t.Fatalf("cap1 web: %d packets in range, want %d (of fewer than 20)", len(c1.pkts), len(want))
		}
		// Ordinals count from the first segment read (segment 2 starts
		// at packet 11 of the file): skipped segments are never fetched.
		for i := range want {
			if c1.pkts[i].Ordinal != want[i].Ordinal-10 || !c1.pkts[i].Timestamp.Equal(want[i].Timestamp) || string(c1.pkts[i].Data) != string(want[i].Data) {
				t.Errorf("packet %d: ordinal %d at %v, want %d at %v", i, c1.pkts[i].Ordinal, c1.pkts[i].Timestamp, want[i].Ordinal-10, want[i].Timestamp)
				break
			}
		}
		_, err = Plan(ctx, c, loc("rec/"), Range{Since: time.Now()}, nil)
		if err == nil || !strings.Contains(err.Error(), "no segment between") || !strings.Contains(err.Error(), "span") {
			t.Errorf("range after the captures: %v", err)
		}
	})

	t.Run("single object", func(t *testing.T) {
		srcs, err := Plan(ctx, c, loc("plain/http.pcap"), Range{}, nil)
		if err != nil || len(srcs) != 1 || srcs[0].Name() != "http.pcap" {
			t.Fatalf("sources %v, %v", names(srcs), err)
		}
		samePackets(t, "http.pcap", runAll(t, srcs)["http.pcap"].pkts, readLocal(t, web))
		if _, err := Plan(ctx, c, loc("nothing/here/"), Range{}, nil); err == nil || !strings.Contains(err.Error(), "nothing stored there") {
			t.Errorf("empty prefix: %v", err)
		}
	})

	t.Run("trace segments", func(t *testing.T) {
		// Envoy sources are stored as length-delimited TraceWrappers, the
		// format Envoy's own file sink writes.
		for seq, paths := range [][]string{{"/a", "/b"}, {"/c"}} {
			var buf bytes.Buffer
			for i, p := range paths {
				if _, err := protodelim.MarshalTo(&buf, tracetest.HTTPBuffered(i, p, 200, "ok")); err != nil {
					t.Fatal(err)
				}
			}
			seg := s3store.Segment{CaptureID: "cap3", Source: "envoy/front", Seq: seq + 1,
				Start: tracetest.Base(), End: tracetest.Base().Add(time.Second), Ext: s3store.ExtTraces}
			srv.Put(t, bucket, seg.Key("rec"), buf.Bytes())
		}
		srcs, err := Plan(ctx, c, loc("rec/cap3/"), Range{}, nil)
		if err != nil || len(srcs) != 1 {
			t.Fatalf("sources %v, %v", names(srcs), err)
		}
		got := runAll(t, srcs)["envoy/front"]
		var paths []string
		for i, tr := range got.traces {
			if tr.Ordinal != uint64(i+1) || tr.Source != "envoy/front" {
				t.Errorf("trace %d: ordinal %d source %q", i, tr.Ordinal, tr.Source)
			}
			for _, h := range tr.Wrapper.GetHttpBufferedTrace().GetRequest().GetHeaders() {
				if h.GetKey() == ":path" {
					paths = append(paths, h.GetValue())
				}
			}
		}
		if strings.Join(paths, " ") != "/a /b /c" {
			t.Errorf("traces read back with paths %v, want /a /b /c in segment order", paths)
		}
	})

	t.Run("broken connections resume", func(t *testing.T) {
		cut := &cuttingStore{Store: c, after: 3000}
		srcs, err := Plan(ctx, cut, loc("rec/cap1/"), Range{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := runAll(t, srcs)
		samePackets(t, "ns/web-1", got["ns/web-1"].pkts, readLocal(t, web))
		if cut.ranged == 0 {
			t.Error("no read was resumed with a Range request")
		}
		dead := &cuttingStore{Store: c, after: 3000, failGets: true}
		srcs, _ = Plan(ctx, dead, loc("rec/cap1/"), Range{}, nil)
		err = srcs[1].Run(ctx, &collector{})
		if err == nil || !strings.Contains(err.Error(), "gave up after") || !strings.Contains(err.Error(), "segment 1 of") {
			t.Errorf("a store that stays away: %v", err)
		}
	})
}

func samePackets(t *testing.T, name string, got, want []sources.Packet) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d packets from the store, %d from the file", name, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Ordinal != w.Ordinal || !g.Timestamp.Equal(w.Timestamp) || string(g.Data) != string(w.Data) || g.LinkType != w.LinkType || g.Source != name || g.Offset != -1 {
			t.Fatalf("%s packet %d: got ordinal %d %v %d bytes source %q, want %d %v %d bytes", name, i, g.Ordinal, g.Timestamp, len(g.Data), g.Source, w.Ordinal, w.Timestamp, len(w.Data))
		}
	}
}

func names(srcs []*Source) []string {
	var n []string
	for _, s := range srcs {
		n = append(n, fmt.Sprintf("%s(%d)", s.Name(), s.Segments()))
	}
	return n
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// cuttingStore breaks every body after a number of bytes, as a dropped
// connection does; with failGets, every Get after the first fails too.
type cuttingStore struct {
	Store
	after    int
	failGets bool
	mu       sync.Mutex
	gets     int
	ranged   int
}

func (s *cuttingStore) Get(ctx context.Context, bucket, key string, off int64) (io.ReadCloser, error) {
	s.mu.Lock()
	s.gets++
	if off > 0 {
		s.ranged++
	}
	fail := s.failGets && s.gets > 1
	s.mu.Unlock()
	if fail {
		return nil, errors.New("connection refused")
	}
	body, err := s.Store.Get(ctx, bucket, key, off)
	if err != nil {
		return nil, err
	}
	return &cutBody{ReadCloser: body, left: s.after}, nil
}

type cutBody struct {
	io.ReadCloser
	left int
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("connection reset by peer")
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= n
	return n, err
}
