package lanes

import (
	"testing"

	"github.com/tapview/tapview/decode/tcp"
)

// TestEventPoolKeepsBigBuffers: buffers an eviction grew are kept (up to
// eventPoolBig, and only up to eventPoolBigCap events) and handed out
// before small ones; small ones are kept up to eventPoolKeep.
func TestEventPoolKeepsBigBuffers(t *testing.T) {
	var p eventPool
	p.put(make([]tcp.Event, 0, 100))
	for i := 0; i < eventPoolBig+2; i++ {
		p.put(make([]tcp.Event, 5, 40000))
	}
	p.put(make([]tcp.Event, 0, eventPoolBigCap+1))
	if len(p.big) != eventPoolBig || len(p.free) != 1 {
		t.Fatalf("kept %d big and %d small buffers, want %d and 1", len(p.big), len(p.free), eventPoolBig)
	}
	for i := 0; i < eventPoolBig; i++ {
		if b := p.get(); cap(b) != 40000 || len(b) != 0 {
			t.Fatalf("get %d: len %d cap %d, want an emptied big buffer first", i, len(b), cap(b))
		}
	}
	if b := p.get(); cap(b) != 100 {
		t.Fatalf("then cap %d, want the small buffer", cap(b))
	}
	if b := p.get(); b != nil {
		t.Fatalf("an empty pool gave a buffer of cap %d", cap(b))
	}
	for i := 0; i < eventPoolKeep+5; i++ {
		p.put(make([]tcp.Event, 0, 10))
	}
	if len(p.free) != eventPoolKeep {
		t.Fatalf("kept %d small buffers, want %d", len(p.free), eventPoolKeep)
	}
}
