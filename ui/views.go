package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// overlay is a view that takes the body of the screen in place of the
// lists: help, notes, the bytes of a flow, the external lens. Each keeps
// its own state in its own small type; the root Model only routes keys
// and results to the one that is open and draws it, so adding a view
// does not add fields to the Model. The lists and the detail are small
// models too (listView, detailView), routed to by the root the same way.
type overlay interface {
	// key handles a key and reports whether it did; an unhandled key
	// falls through to the keys that mean the same everywhere.
	key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool)
	// lines renders exactly h lines of body.
	lines(m *Model, h int) []string
	// hints are the few keys worth showing in the status bar.
	hints() string
}

// backer is an overlay with a layer of its own (the stats view's
// grouping picker): back closes that layer and reports whether there was
// one, before q or esc close the overlay.
type backer interface{ back() bool }

// openOverlay shows o in place of the lists (and the detail under it).
func (m *Model) openOverlay(o overlay) {
	m.over = o
}

// closeOverlay goes back to the lists.
func (m *Model) closeOverlay() {
	m.over = nil
	m.fixLists()
}

// onOverlayKey routes a key to the open overlay: q and esc close it, the
// overlay handles its own keys, and the global keys (panes, quit, help,
// notes) still work.
func (m *Model) onOverlayKey(k tea.KeyPressMsg) tea.Cmd {
	if b, ok := m.over.(backer); ok && key.Matches(k, m.keys.Back) && b.back() {
		return nil
	}
	if key.Matches(k, m.keys.Back) {
		m.closeOverlay()
		return nil
	}
	if cmd, handled := m.over.key(m, k); handled {
		return cmd
	}
	switch {
	case key.Matches(k, m.keys.Help), key.Matches(k, m.keys.Notes), key.Matches(k, m.keys.Exchanges),
		key.Matches(k, m.keys.Flows), key.Matches(k, m.keys.Stats), key.Matches(k, m.keys.External):
		// Another view: this one closes first.
		m.over = nil
		return m.onGlobalKey(k)
	case key.Matches(k, m.keys.Quit), key.Matches(k, m.keys.Mask), key.Matches(k, m.keys.Both),
		key.Matches(k, m.keys.Pause):
		return m.onGlobalKey(k)
	}
	return nil
}

// scroller is the scroll state shared by the text overlays.
type scroller struct{ top int }

// scrollKey moves a window of h lines over n lines; it reports whether k
// was a movement key.
func (s *scroller) scrollKey(km keyMap, k tea.KeyPressMsg, n, h int) bool {
	switch {
	case key.Matches(k, km.Up):
		s.top--
	case key.Matches(k, km.Down):
		s.top++
	case key.Matches(k, km.PageUp):
		s.top -= max(h-1, 1)
	case key.Matches(k, km.PageDown), k.String() == "space":
		s.top += max(h-1, 1)
	case key.Matches(k, km.Top):
		s.top = 0
	case key.Matches(k, km.Bottom):
		s.top = n
	default:
		return false
	}
	s.clamp(n, h)
	return true
}

func (s *scroller) clamp(n, h int) {
	s.top = min(max(s.top, 0), max(n-h, 0))
}

// window returns the lines of all shown at the scroll position, padded to
// exactly h.
func (s *scroller) window(all []string, h int) []string {
	s.clamp(len(all), h)
	out := make([]string, 0, h)
	for i := s.top; i < len(all) && len(out) < h; i++ {
		out = append(out, all[i])
	}
	for len(out) < h {
		out = append(out, "")
	}
	return out
}

// position is "12–30 of 80" for a scrolled view, empty when all fits.
func (s *scroller) position(n, h int) string {
	if n <= h {
		return ""
	}
	return thousands(s.top+1) + "–" + thousands(min(s.top+h, n)) + " of " + thousands(n)
}
