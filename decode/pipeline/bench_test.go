package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/tapview/tapview/sources"
)

type nopDecoder struct{ n int }

func (d *nopDecoder) Packet(*sources.Packet) { d.n++ }
func (d *nopDecoder) Finish(time.Time)       {}

// BenchmarkRun measures the hand-over cost per packet from source
// goroutines to the decoder goroutine (batching, channel, stats); one op
// is one packet, spread over four file sources.
func BenchmarkRun(b *testing.B) {
	b.ReportAllocs()
	const srcs = 4
	per := b.N/srcs + 1
	var inputs []Input
	for i := 0; i < srcs; i++ {
		inputs = append(inputs, Input{Source: &fakeSource{name: string(rune('a' + i)), n: per}})
	}
	dec := &nopDecoder{}
	b.ResetTimer()
	if err := Run(context.Background(), inputs, dec, Options{}); err != nil {
		b.Fatal(err)
	}
	if dec.n != per*srcs {
		b.Fatalf("%d packets decoded, want %d", dec.n, per*srcs)
	}
}
