package tcp

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/http2"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources"
)

// pubLog records every publication in order.
type pubLog struct {
	flows []decode.Flow
	exs   []decode.Exchange
}

func (p *pubLog) Flow(f *decode.Flow)         { p.flows = append(p.flows, *f) }
func (p *pubLog) Exchange(e *decode.Exchange) { p.exs = append(p.exs, *e) }
func (p *pubLog) Note(sources.Status)         {}

func decodeAll(t *testing.T, name string, cfg Config) *pubLog {
	out := &pubLog{}
	cfg.Parsers = []decode.Parser{http1.NewWithOptions(http1.Options{GzipTrailerSizes: true}), http2.New()}
	d := NewDecoder(out, cfg)
	pkts := corpustest.Read(t, name)
	for i := range pkts {
		d.Packet(&pkts[i])
	}
	d.Finish(time.Time{})
	return out
}

// TestSkipOrdinalsChangesNothingElse decodes every corpus capture with
// and without SkipOrdinals: every publication must be the same apart
// from the ordinals.
func TestSkipOrdinalsChangesNothingElse(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join(corpustest.Dir(t), "*.pcap*"))
	if len(names) == 0 {
		t.Skip("no corpus")
	}
	ordinals := 0
	for _, path := range names {
		name := filepath.Base(path)
		with := decodeAll(t, name, Config{})
		without := decodeAll(t, name, Config{SkipOrdinals: true})
		if len(with.flows) != len(without.flows) || !reflect.DeepEqual(with.exs, without.exs) {
			t.Errorf("%s: publications differ", name)
			continue
		}
		for i := range with.flows {
			ordinals += len(with.flows[i].Ordinals)
			if len(without.flows[i].Ordinals) != 0 {
				t.Errorf("%s: flow %d has ordinals", name, without.flows[i].ID)
			}
			with.flows[i].Ordinals = nil
			if !reflect.DeepEqual(with.flows[i], without.flows[i]) {
				t.Errorf("%s: flow publication %d differs:\n%+v\n%+v", name, i, with.flows[i], without.flows[i])
			}
		}
	}
	if ordinals == 0 {
		t.Error("the corpus recorded no ordinals at all")
	}
}
