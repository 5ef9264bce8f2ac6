package kafka

import (
	"bytes"
	"strings"

	"github.com/tapview/tapview/decode"
)

// maxTopicIDs bounds a Namer; past it new ids are not remembered.
const maxTopicIDs = 100000

// idLen is the length of a topic id in Kafka's base64 form.
const idLen = 22

// Namer names Kafka topic ids. Clients learn ids from Metadata on one
// connection and fetch by id on another, which a decoder lane may not
// see: the lanes leave ids unnamed, and a Namer, called for every
// exchange in the order they are published (the merge of the lanes,
// the same for any number of lanes), learns the ids each Metadata and
// CreateTopics response names (Query.TopicIDs) and names the ids of
// every exchange published after: in Request.Target (a topic that is
// the id in base64) and in the bodies ("id:" and the id). An id no
// response named stays as it was. A Namer is not safe for concurrent
// use.
type Namer struct {
	names map[string]string // base64 id → name
}

// NewNamer returns a Namer that knows no ids yet.
func NewNamer() *Namer { return &Namer{names: map[string]string{}} }

// Name learns from e and names the topic ids it shows. It changes e's
// messages in place but never the bytes their slices share with the
// decoder (a new body is made), so it takes the copies decode.Conn's
// Publish makes.
func (n *Namer) Name(e *decode.Exchange) {
	if e == nil || e.Proto != Name || e.Query == nil {
		return
	}
	for _, t := range e.Query.TopicIDs {
		k := idString(t.ID)
		if _, ok := n.names[k]; ok || len(n.names) < maxTopicIDs {
			n.names[k] = t.Name
		}
	}
	if len(n.names) == 0 {
		return
	}
	if m := e.Request; m != nil {
		m.Target = n.target(m.Target)
		m.Body = n.body(m.Body)
	}
	if m := e.Response; m != nil {
		m.Body = n.body(m.Body)
	}
}

// target names the ids among the comma-joined topics of t.
func (n *Namer) target(t string) string {
	if !strings.Contains(t, ",") {
		if name, ok := n.lookup(t); ok {
			return name
		}
		return t
	}
	parts := strings.Split(t, ",")
	changed := false
	for i, p := range parts {
		if name, ok := n.lookup(p); ok {
			parts[i], changed = name, true
		}
	}
	if !changed {
		return t
	}
	return strings.Join(parts, ",")
}

func (n *Namer) lookup(s string) (string, bool) {
	if len(s) != idLen {
		return "", false
	}
	name, ok := n.names[s]
	return name, ok
}

// body replaces each "id:" and known id (followed by a space, ':' or the
// end of a line) with the topic's name, in a new slice; b is returned
// as it is when nothing is named.
func (n *Namer) body(b []byte) []byte {
	if !bytes.Contains(b, []byte("id:")) {
		return b
	}
	var out []byte
	last := 0
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte("id:"))
		if j < 0 {
			break
		}
		at := i + j
		end := at + 3 + idLen
		i = at + 3
		if at > 0 && b[at-1] != ' ' && b[at-1] != '\n' || end > len(b) ||
			end < len(b) && b[end] != ' ' && b[end] != ':' && b[end] != '\n' {
			continue
		}
		name, ok := n.names[string(b[at+3:end])]
		if !ok {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b))
		}
		out = append(out, b[last:at]...)
		out = append(out, name...)
		last, i = end, end
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}
