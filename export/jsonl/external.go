package jsonl

import (
	"strconv"

	"github.com/tapview/tapview/decode/mesh"
)

// AppendExternal appends one external destination of decode/mesh as
// {"type":"external",...}: name, ips, requests, bytes, errors, first,
// last, verdict ("passed", "blocked", "failed" or "pending"), via when
// the traffic went through an egress proxy, reason when the verdict is
// not a plain pass, and the requests per verdict, so scripts and alerts
// can act on blocked destinations without the UI.
func AppendExternal(b []byte, g mesh.Group) []byte {
	b = append(b, `{"type":"external"`...)
	b = str(b, "name", g.Name)
	b = append(b, `,"ips":[`...)
	for i, ip := range g.IPs {
		if i > 0 {
			b = append(b, ',')
		}
		b = quote(b, ip.String())
	}
	b = append(b, ']')
	b = intField(b, "requests", g.Requests)
	b = intField(b, "bytes", g.Bytes)
	b = intField(b, "errors", g.Errors)
	b = timeField(b, "first", g.First)
	b = timeField(b, "last", g.Last)
	b = str(b, "verdict", string(g.Verdict))
	b = optStr(b, "via", g.Via)
	b = optStr(b, "reason", g.Reason)
	b = intField(b, "passed", g.Passed)
	b = intField(b, "blocked", g.Blocked)
	b = intField(b, "failed", g.Failed)
	return append(b, '}')
}

func intField(b []byte, key string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

// External writes one line per destination. The lines do not count
// towards Options.Limit: they summarise, they are not records.
func (w *Writer) External(gs []mesh.Group) {
	w.out.Lock()
	defer w.out.Unlock()
	for _, g := range gs {
		w.buf = AppendExternal(w.buf[:0], g)
		w.write()
	}
	_ = w.out.FlushLocked()
}
