package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/export/har"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// exchangeList collects the final exchanges of a decode.
type exchangeList struct{ xs []*decode.Exchange }

func (l *exchangeList) Flow(*decode.Flow) {}
func (l *exchangeList) Exchange(e *decode.Exchange) {
	if e.State.Final() {
		l.xs = append(l.xs, e)
	}
}
func (l *exchangeList) Note(sources.Status) {}

// TestExportHARSameAsSequential checks that the HAR export, whose
// masking and encoding run on worker goroutines, writes byte for byte
// what masking and adding the exchanges one by one in decoder order
// writes, on the corpus captures with the most exchanges (out-of-order
// finishing workers must not reorder entries).
func TestExportHARSameAsSequential(t *testing.T) {
	dir := corpustest.Dir(t)
	for _, name := range []string{"h2c_prior_knowledge_doh_34streams.pcap", "http11_pipelined_40req_retrans.pcap", "http11_keepalive_5req_1conn.pcap", "h2c_ipv6_6streams_port3000.pcap"} {
		in := filepath.Join(dir, name)
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.har")
			mustExport(t, in, "-w", out)
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			src, err := pcapfile.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			var l exchangeList
			if err := runPipeline(context.Background(), []input{{src: src}}, keylog.New(), &l, nil); err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			w, err := har.NewWriter(&want, har.Options{Name: "tapview", Version: versionString(), Comment: harComment(mask.Default())})
			if err != nil {
				t.Fatal(err)
			}
			m := mask.Default()
			for _, x := range l.xs {
				if har.Supported(x) {
					if err := w.Add(m.Exchange(x)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if w.Entries() < 2 {
				t.Fatalf("only %d entries: pick a capture with more exchanges", w.Entries())
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("export differs from the sequential HAR (%d vs %d bytes, %d entries)", len(got), want.Len(), w.Entries())
			}
		})
	}
}
