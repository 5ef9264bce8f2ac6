//go:build linux

package agent_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/agent"
	"github.com/tapview/tapview/sources/agent/tlsconf"
	"github.com/tapview/tapview/sources/internal/tlstest"
	"github.com/tapview/tapview/sources/live/netns/netnstest"
	"github.com/tapview/tapview/sources/pcapfile"
	s3store "github.com/tapview/tapview/storage/s3"
	"github.com/tapview/tapview/storage/s3/s3test"
	"github.com/tapview/tapview/storage/segment"
	"github.com/tapview/tapview/storage/upload"
)

// uploadTee hands every packet to the direct collector and to the
// upload recorder, as --upload's tee does in the CLI.
type uploadTee struct {
	*collector
	rec *upload.Recorder
}

func (u uploadTee) Packet(p sources.Packet) {
	u.rec.Packet(p)
	u.collector.Packet(p)
}

// TestEndToEndAgentsUpload captures real HTTP on two agents in their own
// network namespaces (the setup of TestEndToEndTwoAgentsMerged), records
// the merged capture to a real S3 server (SeaweedFS on loopback) in small
// segments, reads every segment back from the store and decodes it: the
// exchanges are the same as those of the direct capture.
func TestEndToEndAgentsUpload(t *testing.T) {
	client := netnstest.New(t)
	const nodes = 2
	var ips []net.IP
	for i := 1; i <= nodes; i++ {
		ips = append(ips, net.ParseIP(fmt.Sprintf("10.91.%d.2", i)))
	}
	pki := tlstest.New(t, "pcap-agent.service.cf.internal", ips...)
	var ns []*nodeNS
	var addrs []string
	for i := 1; i <= nodes; i++ {
		n := startNode(t, i, client, pki)
		ns = append(ns, n)
		addrs = append(addrs, n.addr)
	}
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "agents")
	id := s3store.NewCaptureID(time.Now())
	source := strings.Join(addrs, ",")
	rec, err := upload.Start(upload.Options{
		Dir: filepath.Join(t.TempDir(), id), MaxBytes: 4 << 10,
		Meta:   segment.Meta{CaptureID: id, Source: source, User: "tester", Masked: false},
		Putter: upload.NewS3Putter(srv.Client(t).S3(), bucket),
		Key: func(s segment.Segment) string {
			return s3store.Segment{CaptureID: id, Source: source, Seq: s.Seq, Start: s.First, End: s.Last, Ext: s.Kind.Ext()}.Key("e2e")
		},
		Tags: func(segment.Segment) string { return s3store.Tags(id, source, "tester", false) },
	})
	if err != nil {
		t.Fatal(err)
	}

	tc, err := tlsconf.Client{CA: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey}.Config()
	if err != nil {
		t.Fatal(err)
	}
	src, err := agent.New(agent.Config{
		Addrs:   addrs,
		Capture: agent.Capture{Device: "eth0", Filter: "tcp"},
		Transport: agent.Transport{
			Creds:       credentials.NewTLS(tc),
			DialOptions: []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return dialIn(client)(ctx, "tcp", addr) })},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- src.Run(ctx, uploadTee{col, rec}) }()
	for _, n := range ns {
		deadline := time.Now().Add(15 * time.Second)
		for n.srv.Running() != 1 {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("agent %s did not start capturing: %v", n.addr, <-errc)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	const perNode = 5
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialIn(client), DisableKeepAlives: true}}
	for r := 1; r <= perNode; r++ {
		for i, n := range ns {
			resp, err := httpc.Get(fmt.Sprintf("http://%s:8080/node%d/req%d", n.ip, i+1, r))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for i, n := range ns {
		for _, w := range []string{fmt.Sprintf("GET /node%d/req%d HTTP/1.1", i+1, perNode), "hello from " + n.ip} {
			for !col.has(w) {
				if time.Now().After(deadline) {
					t.Fatalf("captured packets never contained %q", w)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	// Let the last FINs arrive before stopping.
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	rep := rec.Close(30 * time.Second)
	if msg, problem := rep.Summary("s3://agents/e2e"); problem || rep.Uploaded < 2 {
		t.Fatalf("upload: %s (want several segments)", msg)
	}

	// Read the capture back from the store, segment after segment.
	cli := srv.Client(t)
	objs, err := cli.List(context.Background(), bucket, "e2e/"+id+"/")
	if err != nil {
		t.Fatal(err)
	}
	stored := &collector{}
	for _, o := range objs {
		body, err := cli.Get(context.Background(), bucket, o.Key, 0)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := pcapfile.New(o.Key, body)
		if err != nil {
			t.Fatal(err)
		}
		if err := ps.Run(context.Background(), stored); err != nil {
			t.Fatalf("reading %s: %v", o.Key, err)
		}
		body.Close()
	}
	col.mu.Lock()
	direct := exchangesOf(col.packets)
	col.mu.Unlock()
	fromStore := exchangesOf(stored.packets)
	if len(direct) != nodes*perNode {
		t.Fatalf("direct capture: %d exchanges, want %d: %v", len(direct), nodes*perNode, direct)
	}
	if strings.Join(direct, "\n") != strings.Join(fromStore, "\n") {
		t.Fatalf("exchanges differ.\ndirect (%d):\n%s\nfrom the store (%d segments, %d):\n%s",
			len(direct), strings.Join(direct, "\n"), len(objs), len(fromStore), strings.Join(fromStore, "\n"))
	}
	t.Logf("%d exchanges captured by %d agents, the same %d read back from %d segments in the store", len(direct), nodes, len(fromStore), len(objs))
}

// exchangesOf decodes packets into HTTP exchanges, one sorted line each:
// method, path, status, state and response body.
func exchangesOf(pkts []sources.Packet) []string {
	col := &collector{}
	dec := tcp.NewDecoder(col, tcp.Config{Parsers: []decode.Parser{http1.New()}})
	var last time.Time
	for i := range pkts {
		p := pkts[i]
		p.Source = "" // the store names packets after the segment
		dec.Packet(&p)
		last = p.Timestamp
	}
	dec.Finish(last)
	var out []string
	for _, e := range col.exchanges {
		out = append(out, fmt.Sprintf("%s %s %d %s %q", e.Method(), e.Path(), e.Status(), e.State, e.Response.Body))
	}
	sort.Strings(out)
	return out
}
