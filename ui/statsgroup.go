package ui

import (
	"fmt"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode/filter"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/decode/route"
	"github.com/tapview/tapview/decode/stats"
)

// openGroup lists the selected group's exchanges: the exchanges filter
// becomes an expression that selects exactly the group under the filter
// the stats counted, so / shows it for editing and b or a restart apply
// it again like any filter the user typed.
func (m *Model) openGroup(v *statsView) tea.Cmd {
	if v.cursor >= len(v.rows) {
		return nil
	}
	row := v.rows[v.cursor]
	if len(row.Values) > 0 && row.Values[0] == stats.Other {
		return m.flash("(other) collects the groups past the first 10,000; filter the list with / to see them", false)
	}
	expr, err := groupExpr(v.expr, v.groupBy(), row.Values, v.masked)
	if err != nil {
		return m.flash(err.Error(), false)
	}
	m.switchPane(paneExchanges)
	cmd, err := m.setFilter(paneExchanges, expr)
	if err != nil {
		return m.flash("filter: "+err.Error(), true)
	}
	return tea.Batch(cmd, m.flash("the list shows the group: / edits its filter, 3 goes back to the stats", false))
}

// groupExpr is the filter expression selecting the exchanges whose group
// values (stats.Table.Values over the dimensions by) are values, among
// those base selects. Each dimension is a filter variable (route is one
// too, defined as the text a route group shows), so name == value says
// it, except where the group's text is not the value: a value escaped or
// cut for the screen, or one hiding a secret while masking is on (the
// stats count masked exchanges, a filter reads them as captured).
func groupExpr(base string, by, values []string, masked bool) (string, error) {
	types := make(map[string]string)
	for _, v := range filter.Variables() {
		types[v.Name] = v.Type
	}
	clauses := make([]string, 0, len(by))
	for i, name := range by {
		if i >= len(values) {
			break
		}
		val := values[i]
		if masked && strings.Contains(val, mask.Display) {
			return "", fmt.Errorf("this group's %s hides a secret (masking is on), so no filter names it; m unmasks, then enter", name)
		}
		c, err := groupClause(name, types[name], val)
		if err != nil {
			return "", err
		}
		clauses = append(clauses, c)
	}
	return filter.And(base, strings.Join(clauses, " && ")), nil
}

// groupClause compares one variable with a group value as
// filter.Accessor rendered it.
func groupClause(name, typ, val string) (string, error) {
	inexact := fmt.Errorf("this group's %s was escaped or cut for the screen, so no filter names it exactly; group by route, or filter with /", name)
	switch typ {
	case "string":
		cut := strings.HasSuffix(val, "…") && len(val) >= route.MaxLen
		if name != "route" && (cut || strings.Contains(val, `\`)) {
			return "", inexact
		}
		return name + " == " + filter.Quote(val), nil
	case "int":
		if _, err := strconv.ParseInt(val, 10, 64); err != nil {
			return "", fmt.Errorf("this group has no %s, so no filter names it exactly; filter with /", name)
		}
		return name + " == " + val, nil
	case "bool":
		if val == "true" {
			return name, nil
		}
		return "!" + name, nil
	case "duration":
		return name + ` == duration("` + val + `")`, nil
	}
	return "", fmt.Errorf("a %s group cannot be listed; filter with / on %s", typ, name)
}
