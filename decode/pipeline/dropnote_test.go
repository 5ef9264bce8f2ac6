package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapview/tapview/sources"
)

// noteRecorder keeps every note the pipeline sends.
type noteRecorder struct {
	mu    sync.Mutex
	notes []sources.Status
}

func (n *noteRecorder) Note(s sources.Status) {
	n.mu.Lock()
	n.notes = append(n.notes, s)
	n.mu.Unlock()
}

// TestLiveDropsAreNoted floods a live source past a slow decoder for
// 2.5 s: drops must be told as "dropped" warning notes, at most one per
// second (plus the final one), whose counts since the previous note add
// up to the dropped total of the last stats.
func TestLiveDropsAreNoted(t *testing.T) {
	rec := newRecDecoder()
	dec := boundDecoder{rec, t}
	rec.onPacket = func(*sources.Packet) { time.Sleep(200 * time.Microsecond) }
	live := &fakeSource{name: "live", forever: true, after: func(i int) {
		if i%64 == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}}
	notes := &noteRecorder{}
	opts := dec.opts()
	opts.Notes = notes
	opts.BatchSize = 16
	opts.QueueBatches = 2
	opts.Grace = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	if err := Run(ctx, []Input{{Source: live, Live: true}}, dec, opts); err != nil {
		t.Fatal(err)
	}
	st := lastStats(rec.stats, "live")
	if st.Dropped == 0 {
		t.Fatalf("the flood dropped nothing (stats %+v); the test proves nothing", st)
	}
	var sum int64
	var times []time.Time
	for _, n := range notes.notes {
		if n.Kind != "dropped" {
			continue
		}
		if n.Level != sources.Warning || n.Source != "live" {
			t.Errorf("note %+v", n)
		}
		var d int64
		if _, err := fmt.Sscanf(n.Message, "%d items dropped since the last note", &d); err != nil || d <= 0 {
			t.Errorf("note message %q has no positive count: %v", n.Message, err)
		}
		if !strings.Contains(n.Message, "decoder is behind") {
			t.Errorf("note %q does not say why", n.Message)
		}
		sum += d
		times = append(times, n.Time)
	}
	if len(times) < 2 {
		t.Fatalf("%d dropped notes in 2.5 s of drops, want one a second and a final one: %+v", len(times), notes.notes)
	}
	if len(times) > 5 {
		t.Errorf("%d dropped notes in 2.5 s: not rate-limited", len(times))
	}
	for i := 1; i < len(times)-1; i++ { // the final note may follow closer
		if gap := times[i].Sub(times[i-1]); gap < dropNoteInterval {
			t.Errorf("notes %d and %d only %v apart", i-1, i, gap)
		}
	}
	if sum != st.Dropped {
		t.Errorf("notes count %d drops, stats %d", sum, st.Dropped)
	}
}
