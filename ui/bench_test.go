package ui

import (
	"context"
	"fmt"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
)

// millionStore fills a real decode.Store with n exchanges. Messages are
// shared between exchanges (the UI never mutates them) so the benchmark
// measures the UI, not the allocator.
func millionStore(n int) *decode.Store {
	s := decode.NewStore()
	var templates []*decode.Exchange
	for i, st := range []int{200, 201, 204, 301, 404, 500, 503, 0} {
		for j := 0; j < 8; j++ {
			e := exchange(uint64(i*8+j+1), float64(j), "GET", fmt.Sprintf("/api/v%d/items/%d?page=%d", i, j, i*j), st,
				"", "", "application/json", `{"ok":true}`)
			templates = append(templates, e)
		}
	}
	for i := 0; i < n; i++ {
		c := *templates[i%len(templates)]
		c.ID = uint64(i + 1)
		c.Start = t0.Add(time.Duration(i) * time.Millisecond)
		s.Exchange(&c)
	}
	s.SetStats(decode.SourceStats{Name: "big.pcapng", Packets: int64(n) * 8, Bytes: int64(n) * 900, Total: int64(n) * 900, Done: true})
	return s
}

func benchModel(b *testing.B, s Store, w, h int) *Model {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	m := New(ctx, Config{Store: s, Compile: fakeCompile, Mask: fakeMask, Location: time.UTC})
	m.pull()
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

const million = 1_000_000

// BenchmarkFrame is one key press (cursor down) and the frame it draws,
// with a million exchanges loaded: the common interactive case.
func BenchmarkFrame(b *testing.B) {
	s := millionStore(million)
	for _, sz := range [][2]int{{80, 24}, {250, 70}} {
		b.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(b *testing.B) {
			m := benchModel(b, s, sz[0], sz[1])
			down := keyMsg("j")
			for b.Loop() {
				m.Update(down)
				_ = m.View()
			}
		})
	}
}

// BenchmarkFramePageDown replaces every visible row each frame, so each
// row is fetched, masked and formatted anew: the worst interactive case.
func BenchmarkFramePageDown(b *testing.B) {
	s := millionStore(million)
	for _, sz := range [][2]int{{80, 24}, {250, 70}} {
		b.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(b *testing.B) {
			m := benchModel(b, s, sz[0], sz[1])
			pg := keyMsg("pgdown")
			for b.Loop() {
				m.Update(pg)
				_ = m.View()
				if m.lists[0].cursor >= million-200 {
					m.lists[0].cursor = 0
				}
			}
		})
	}
}

// BenchmarkFrameFiltered pages through a filtered list (about a quarter
// of a million matches scattered over the store).
func BenchmarkFrameFiltered(b *testing.B) {
	s := millionStore(million)
	m := benchModel(b, s, 250, 70)
	cmd, err := m.setFilter(paneExchanges, "status >= 404")
	if err != nil {
		b.Fatal(err)
	}
	runWork(m, cmd)
	if n := m.shown(paneExchanges); n < million/4 {
		b.Fatalf("filter matched %d", n)
	}
	pg := keyMsg("pgdown")
	for b.Loop() {
		m.Update(pg)
		_ = m.View()
		if m.lists[0].cursor >= m.shown(paneExchanges)-200 {
			m.lists[0].cursor = 0
		}
	}
}

// BenchmarkRefresh is what a store change costs the UI thread: counts,
// stats, visible rows, then the frame.
func BenchmarkRefresh(b *testing.B) {
	s := millionStore(million)
	m := benchModel(b, s, 250, 70)
	for b.Loop() {
		m.pull()
		_ = m.View()
	}
}

// BenchmarkFullFilter is a new filter over a million exchanges (runs in a
// command, off the UI thread).
func BenchmarkFullFilter(b *testing.B) {
	s := millionStore(million)
	mt, _ := fakeCompile("status >= 500")
	for b.Loop() {
		_ = fullPass(s, paneExchanges, 1, "status >= 500", mt, 0, million, nil)()
	}
}

// runWork runs a command tree synchronously, feeding results back, for
// benchmarks that need a settled model without the test driver.
func runWork(m *Model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			runWork(m, c)
		}
	case spinMsg, rearmMsg, clearStatusMsg, nil:
	default:
		_, next := m.Update(msg)
		runWork(m, next)
	}
}
