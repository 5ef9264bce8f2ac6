package ui

import "charm.land/bubbles/v2/key"

// keyMap is the single source of truth for keys: Update matches against
// it and the help screen is generated from it, so the two cannot drift.
type keyMap struct {
	Up, Down, Top, Bottom, PageUp, PageDown     key.Binding
	Enter, Back, Tab, BackTab, Exchanges, Flows key.Binding
	Stats, GroupBy, External, Both              key.Binding
	NextItem, PrevItem                          key.Binding
	Filter, Next, Prev, View                    key.Binding
	Mask, Follow, Pause, Export, Copy           key.Binding
	Sort, Reverse, Mark, Unmark, Jump, Stream   key.Binding
	Save, Pager, Editor                         key.Binding
	Notes, Help, Quit                           key.Binding
}

func newKeyMap() keyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return keyMap{
		Up:        b("k/↑", "up", "k", "up"),
		Down:      b("j/↓", "down", "j", "down"),
		Top:       b("g/home", "top", "g", "home"),
		Bottom:    b("G/end", "bottom", "G", "end"),
		PageUp:    b("pgup", "page up", "pgup", "ctrl+b"),
		PageDown:  b("pgdn", "page down", "pgdown", "ctrl+f"),
		Enter:     b("enter", "open detail", "enter"),
		Back:      b("q/esc", "back / cancel", "q", "esc"),
		Tab:       b("tab", "next pane or tab", "tab"),
		BackTab:   b("shift+tab", "previous tab", "shift+tab"),
		Exchanges: b("1", "exchanges", "1"),
		Flows:     b("2", "flows", "2"),
		Stats:     b("3", "stats by route", "3"),
		GroupBy:   b("r", "stats: group by …", "r"),
		External:  b("4", "external destinations", "4"),
		Both:      b("b", "both sidecar legs", "b"),
		NextItem:  b("J/K", "next/prev item in detail", "J"),
		PrevItem:  b("K", "previous item in detail", "K"),
		Filter:    b("/", "filter · search detail", "/"),
		Next:      b("n", "next match", "n"),
		Prev:      b("N", "previous match", "N"),
		View:      b("v", "cycle body view", "v"),
		Mask:      b("m", "toggle masking", "m"),
		Follow:    b("f", "follow newest", "f"),
		Pause:     b("space", "pause/resume view", "space"),
		Export:    b("x", "export shown (marked)", "x"),
		Copy:      b("c", "copy as curl", "c"),
		Save:      b("w", "save body to a file", "w"),
		Pager:     b("P", "tab in $PAGER (unwrapped)", "P"),
		Editor:    b("e", "tab in $EDITOR", "e"),
		Sort:      b("o", "sort by next column", "o"),
		Reverse:   b("O", "reverse the sort", "O"),
		Mark:      b("M", "mark / unmark row", "M"),
		Unmark:    b("U", "clear all marks", "U"),
		Jump:      b("l", "exchange ⇄ its flow", "l"),
		Stream:    b("s", "bytes: follow stream", "s"),
		Notes:     b("E", "notes (warnings, errors)", "E"),
		Help:      b("?", "help", "?"),
		Quit:      b("Q", "quit (q on the list)", "Q", "ctrl+c"),
	}
}

// helpGroup is one titled column of the help screen.
type helpGroup struct {
	title    string
	bindings []key.Binding
}

// groups orders the bindings for the help screen. PrevItem is folded into
// NextItem's "J/K" entry; disabled bindings (the external lens and both
// legs without a mesh) are left out.
func (k keyMap) groups() []helpGroup {
	return []helpGroup{
		{"Move", []key.Binding{k.Up, k.Down, k.Top, k.Bottom, k.PageUp, k.PageDown}},
		{"Panes", enabled(k.Exchanges, k.Flows, k.Stats, k.GroupBy, k.External, k.Both, k.Enter, k.Back, k.Tab, k.BackTab, k.NextItem, k.Jump, k.Stream)},
		{"Find", []key.Binding{k.Filter, k.Next, k.Prev, k.View, k.Sort, k.Reverse}},
		{"Traffic", []key.Binding{k.Follow, k.Pause, k.Mask, k.Mark, k.Unmark, k.Export, k.Copy}},
		{"Detail", []key.Binding{k.Save, k.Pager, k.Editor}},
		{"General", []key.Binding{k.Notes, k.Help, k.Quit}},
	}
}

func enabled(bs ...key.Binding) []key.Binding {
	out := bs[:0]
	for _, b := range bs {
		if b.Enabled() {
			out = append(out, b)
		}
	}
	return out
}
