package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// groupChoice is one grouping the stats view's picker offers: the
// dimensions (filter variables, as tapview stats --by takes them) and
// what the line says.
type groupChoice struct {
	by   []string // nil: the default, route alone
	name string
	doc  string
}

// groupChoices are the picker's lines: the default route first, then
// filter variables worth grouping by (scalar ones whose values repeat;
// bodies, ports and times would make a group per exchange).
func groupChoices() []groupChoice {
	c := func(doc string, by ...string) groupChoice {
		return groupChoice{by: by, name: strings.Join(by, " · "), doc: doc}
	}
	return []groupChoice{
		{name: "host · method · route", doc: "ids, UUIDs and SQL literals collapsed (default)"},
		c("the routes, each per status code", "route", "status"),
		c("", "host"),
		c("", "method"),
		c("final response status, 0 without one", "status"),
		c("http/1.1, h2, grpc, dns, redis, postgres, ...", "proto"),
		c("request path, ids kept", "path"),
		c("response media type", "content_type"),
		c("", "grpc_service"),
		c("", "grpc_method"),
		c("", "dns_type"),
		c("", "dns_rcode"),
		c("database login user", "db_user"),
		c("", "database"),
		c("SQLSTATE, Redis prefix, MySQL number, Kafka code", "error_code"),
		c("Kafka client id", "client_id"),
		c("", "state"),
		c("", "server"),
		c("", "client_ip"),
		c("", "source"),
		c("", "pod"),
		c("", "namespace"),
		c("inbound or outbound of the captured pod", "direction"),
	}
}

// groupPicker is the list the stats view shows while choosing how to
// group: enter regroups, esc keeps the grouping.
type groupPicker struct {
	tableCursor
}

// groupName is the grouping as the view's titles say it.
func (v *statsView) groupName() string {
	if len(v.by) == 0 {
		return groupChoices()[0].name
	}
	return strings.Join(v.by, " · ")
}

// openPicker shows the picker with the cursor on the current grouping.
func (v *statsView) openPicker() {
	p := &groupPicker{}
	for i, c := range groupChoices() {
		if slicesEqual(c.by, v.by) {
			p.cursor = i
		}
	}
	v.pick = p
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// pickerRows is how many choices fit under the picker's title.
func (m *Model) pickerRows() int { return max(m.bodyHeight()-2, 1) }

// pickKey handles a key while the picker is open.
func (v *statsView) pickKey(m *Model, k tea.KeyPressMsg) tea.Cmd {
	p, n := v.pick, len(groupChoices())
	switch {
	case p.move(m.keys, k, n, m.pickerRows()):
		p.clamp(n, m.pickerRows())
	case key.Matches(k, m.keys.Back), key.Matches(k, m.keys.GroupBy):
		v.pick = nil
	case key.Matches(k, m.keys.Enter):
		v.pick = nil
		return m.regroup(v, groupChoices()[p.cursor].by)
	}
	return nil
}

// regroup starts the table over with another grouping. A job still
// running for the old one is dropped when it lands (gen).
func (m *Model) regroup(v *statsView, by []string) tea.Cmd {
	if slicesEqual(by, v.by) {
		return nil
	}
	*v = statsView{gen: v.gen + 1, by: by, sort: v.sort, desc: v.desc}
	m.statsBy = by
	return tea.Batch(m.stepStats(), m.flash("stats grouped by "+v.groupName(), false))
}

// pickerLines renders the picker in exactly h lines.
func (m *Model) pickerLines(v *statsView, h int) []string {
	p := v.pick
	out := []string{m.st.colTitle.Render(fit(" GROUP BY   enter regroups · esc keeps "+v.groupName(), m.w))}
	cs := groupChoices()
	p.clamp(len(cs), m.pickerRows())
	for i := p.offset; i < len(cs) && len(out) < h; i++ {
		c := cs[i]
		mark := "  "
		if slicesEqual(c.by, v.by) {
			mark = "• "
		}
		head := " " + mark + fit(c.name, 24) + " "
		switch {
		case i == p.cursor:
			out = append(out, m.rp.cursor.wrap(fit(head+c.doc, m.w)))
		default:
			out = append(out, truncateStyled(head+m.st.dim.Render(c.doc), m.w))
		}
	}
	for len(out) < h {
		out = append(out, "")
	}
	return out[:h]
}
