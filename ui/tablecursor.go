package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// tableCursor is the selected row and the first shown row of an overlay
// table (the stats view, the external lens), which move the same way.
type tableCursor struct {
	cursor, offset int
}

// move applies a movement key for a table of n rows showing rows at a
// time; it reports whether k was one. Call clamp afterwards.
func (c *tableCursor) move(keys keyMap, k tea.KeyPressMsg, n, rows int) bool {
	switch {
	case key.Matches(k, keys.Up):
		c.cursor--
	case key.Matches(k, keys.Down):
		c.cursor++
	case key.Matches(k, keys.PageUp):
		c.cursor -= rows
	case key.Matches(k, keys.PageDown):
		c.cursor += rows
	case key.Matches(k, keys.Top):
		c.cursor = 0
	case key.Matches(k, keys.Bottom):
		c.cursor = n - 1
	default:
		return false
	}
	return true
}

// clamp keeps the cursor on a row and in view.
func (c *tableCursor) clamp(n, rows int) {
	c.cursor = min(max(c.cursor, 0), max(n-1, 0))
	if c.cursor < c.offset {
		c.offset = c.cursor
	}
	if c.cursor >= c.offset+rows {
		c.offset = c.cursor - rows + 1
	}
	c.offset = min(max(c.offset, 0), max(n-rows, 0))
}
