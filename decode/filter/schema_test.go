package filter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/export/jsonl"
)

// This file holds the filter variables to the JSON output of
// export/jsonl, so that a filter can be written from a line of
// `tapview open -o json` (issue 19: "dns_name == ..." was an unknown
// variable). Every JSON field of an exchange or flow must be a declared
// variable of the same name and meaning for that kind of record, or be
// listed by jsonOnly with what to write instead.

// jsonRenamed maps the JSON fields whose variable has another name, per
// record type. A flow's "id" is what its exchanges call "flow", so one
// filter (flow == 12) selects a flow and its exchanges.
var jsonRenamed = map[string]map[string]string{
	"flow": {"id": "flow", "tunnel_vni": "tunnel_id", "tunnel_key": "tunnel_id", "tunnel_kind": "tunnel"},
}

// jsonDiffers lists the JSON fields whose variable of the same name
// means something related but not identical, with the filter that
// recovers the JSON value (JSON stands for its literal) and why.
var jsonDiffers = map[string]map[string]struct{ expr, why string }{
	"exchange": {"path": {`(query == "" ? path : path + "?" + query) == JSON`,
		"the filter's path is the path alone, with the query string in query; the JSON path is the request target as sent"}},
	"flow": {"proto": {`proto == JSON || JSON == "" && proto == transport`,
		"a flow whose protocol is not known yet has proto \"\" in the JSON and its transport in filters, so proto == \"udp\" works"}},
}

// jsonOmits lists variables that have a value on records where the JSON
// leaves the field out, when and why.
var jsonOmits = map[string]map[string]struct {
	when func(values) bool
	why  string
}{
	"exchange": {
		"req_messages":  {isWebSocket, "the JSON writes message counts for gRPC calls only; filters count WebSocket frames too"},
		"resp_messages": {isWebSocket, "as req_messages"},
	},
}

func isWebSocket(v values) bool { return v.str(vProto) == "ws" }

// dnsExchange is an answered A query.
func dnsExchange() *decode.Exchange {
	return &decode.Exchange{
		ID: 20, FlowID: 21, Source: "dns.pcap", Proto: "dns", State: decode.Complete,
		Client: netip.MustParseAddrPort("10.0.0.5:53001"), Server: netip.MustParseAddrPort("10.0.0.53:53"),
		Start: t0, End: t0.Add(2 * time.Millisecond),
		DNS: &decode.DNSInfo{ID: 7, Name: "shop.example.com", Type: "A", Rcode: "NOERROR", Answers: []string{"10.0.0.7", "10.0.0.8"}},
	}
}

// wsExchange is an upgraded WebSocket connection: two client frames and
// one server frame, all in Response.Parts as decode/ws keeps them, the
// server's frame inflated from 9 to 11 bytes.
func wsExchange() *decode.Exchange {
	return &decode.Exchange{
		ID: 30, FlowID: 31, Proto: "ws", State: decode.Complete,
		Client: netip.MustParseAddrPort("10.0.0.5:53002"), Server: netip.MustParseAddrPort("10.0.0.9:80"),
		Start: t0, End: t0.Add(time.Second),
		Interim: []*decode.Message{{Status: 101, Reason: "Switching Protocols"}},
		Request: &decode.Message{First: t0, Last: t0.Add(time.Second), BodySize: 5, DecodedSize: 5},
		Response: &decode.Message{First: t0, Last: t0.Add(time.Second), BodySize: 9, DecodedSize: 11, Parts: []decode.Part{
			{Kind: "text", Data: []byte("hi"), Size: 2, FromClient: true},
			{Kind: "text", Data: []byte("hello world"), Size: 9, Compressed: true},
			{Kind: "text", Data: []byte("bye"), Size: 3, FromClient: true},
		}},
	}
}

// kafkaExchange is a Produce with two record batches.
func kafkaExchange() *decode.Exchange {
	return &decode.Exchange{
		ID: 40, FlowID: 41, Proto: "kafka", State: decode.Complete,
		Client: netip.MustParseAddrPort("10.0.0.5:53003"), Server: netip.MustParseAddrPort("10.0.0.20:9092"),
		Start:    t0,
		Request:  &decode.Message{Method: "PRODUCE", Target: "orders", BodySize: 300, DecodedSize: -1},
		Response: &decode.Message{Status: 0, BodySize: 40, DecodedSize: -1},
		Query:    &decode.QueryInfo{ReplyError: "NOT_LEADER_OR_FOLLOWER", ErrorCode: "6", Rows: 5, ClientID: "checkout", Batches: 2, RecordBytes: 300},
	}
}

// pgExchange is a PostgreSQL query on a known database and user.
func pgExchange() *decode.Exchange {
	return &decode.Exchange{
		ID: 50, FlowID: 51, Proto: "postgres", State: decode.Complete,
		Client: netip.MustParseAddrPort("10.0.0.5:53004"), Server: netip.MustParseAddrPort("10.0.0.30:5432"),
		Start:    t0,
		Request:  &decode.Message{Method: "SELECT", Target: "SELECT * FROM pets WHERE id = $1", DecodedSize: -1},
		Response: &decode.Message{DecodedSize: -1},
		Query:    &decode.QueryInfo{Rows: 3, Database: "shop", User: "app"},
	}
}

// meshExchange is apiExchange decoded on a sidecar's app leg, with a
// 100 Continue before its final answer.
func meshExchange(t testing.TB) *decode.Exchange {
	e := apiExchange(t)
	e.Direction, e.Leg, e.Linked = decode.DirOutbound, decode.LegApp, 12
	e.Error = "response cut short"
	e.Request.Trailers = []decode.Header{{Name: "X-Sum", Value: "1"}}
	e.Interim = []*decode.Message{{Status: 100, Reason: "Continue"}}
	return e
}

// fullFlow is a tunnelled, redirected, joined-mid-stream TCP flow.
func fullFlow() *decode.Flow {
	dst := netip.MustParseAddrPort("10.96.0.10:80")
	return &decode.Flow{
		ID: 12, Source: "node-a", Transport: "tcp", Proto: "http/1.1",
		Client: netip.MustParseAddrPort("10.0.0.5:51000"), Server: netip.MustParseAddrPort("127.0.0.1:15001"),
		First: t0, Last: t0.Add(2 * time.Second),
		PacketsC2S: 10, PacketsS2C: 20, BytesC2S: 1000, BytesS2C: 5000,
		State: decode.FlowClosed, Partial: true, Error: "gap of 20 bytes", SNI: "shop.example.com",
		Pod: "web-1", Namespace: "shop", Leg: decode.LegApp, Direction: decode.DirOutbound, Linked: 13,
		OrigDst: &dst,
		Tunnel: &decode.Tunnel{Kind: "vxlan", Depth: 2, ID: 42, HasID: true,
			ClientNode: netip.MustParseAddr("192.168.1.10"), ServerNode: netip.MustParseAddr("192.168.1.11")},
	}
}

// greFlow is a UDP flow of unknown protocol in a GRE tunnel with a key.
func greFlow() *decode.Flow {
	return &decode.Flow{
		ID: 14, Source: "node-b", Transport: "udp",
		Client: netip.MustParseAddrPort("10.0.0.6:5000"), Server: netip.MustParseAddrPort("10.0.0.7:6000"),
		First: t0, Last: t0, PacketsC2S: 1, BytesC2S: 100, State: decode.FlowClosed,
		Tunnel: &decode.Tunnel{Kind: "gre", Depth: 1, ID: 9, HasID: true, ClientNode: netip.MustParseAddr("192.168.2.1")},
	}
}

// filled returns a value of type T with every exported field set to
// something other than its zero value, recursively. Encoding it makes
// the encoder write every optional field it has, including one added to
// the model and the encoder after this test was written.
func filled[T any]() *T {
	var x T
	fill(reflect.ValueOf(&x).Elem(), 1)
	return &x
}

func fill(v reflect.Value, n int) {
	switch p := v.Addr().Interface().(type) {
	case *netip.AddrPort:
		*p = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, 0, byte(n)}), uint16(1000+n))
		return
	case *netip.Addr:
		*p = netip.AddrFrom4([4]byte{10, 8, 0, byte(n)})
		return
	case *time.Time:
		*p = t0.Add(time.Duration(n) * time.Second)
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("v" + strconv.Itoa(n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(n))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), n+1)
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				fill(f, n+i+1)
			}
		}
	}
}

// filledExchange is filled[decode.Exchange] made coherent where the
// filter reads one field through another: response parts of a gRPC
// call are server messages.
func filledExchange() *decode.Exchange {
	e := filled[decode.Exchange]()
	for i := range e.Response.Parts {
		e.Response.Parts[i].FromClient = false
	}
	return e
}

// record is one decoded JSON line: its type and its fields, nested
// objects flattened with "_" (tunnel.kind is tunnel_kind).
type record struct {
	typ    string
	fields map[string]any
}

func decodeRecord(t *testing.T, line []byte) record {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	r := record{fields: map[string]any{}}
	r.typ, _ = m["type"].(string)
	var flat func(prefix string, m map[string]any)
	flat = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				flat(prefix+k+"_", sub)
				continue
			}
			r.fields[prefix+k] = v
		}
	}
	flat("", m)
	return r
}

// subject is what a record was encoded from, as the filter sees it.
type subject struct {
	rec  record
	vars values
}

// TestJSONFieldsHaveVariables encodes exchanges and flows that set every
// optional field with export/jsonl and checks each field against the
// filter: it names a declared variable that applies to that record type
// (or is listed by jsonOnly), and the variable holds the JSON value on
// both evaluators; a field the JSON leaves out of a record holds its
// zero value (or is absent) in the filter.
func TestJSONFieldsHaveVariables(t *testing.T) {
	exs := []*decode.Exchange{meshExchange(t), grpcExchange(), dnsExchange(), wsExchange(), kafkaExchange(), pgExchange(), filledExchange(), {}}
	fls := []*decode.Flow{fullFlow(), greFlow(), filled[decode.Flow](), {}}
	var subs []subject
	for _, e := range exs {
		subs = append(subs, subject{decodeRecord(t, jsonl.AppendExchange(nil, e)), &exchangeVars{e: e}})
	}
	for _, f := range fls {
		subs = append(subs, subject{decodeRecord(t, jsonl.AppendFlow(nil, f)), &flowVars{f: f}})
	}
	problems, checked := schemaProblems(t, subs)
	for _, p := range problems {
		t.Error(p)
	}
	// The representatives must reach the optional fields, or the check
	// above proves little.
	for _, want := range []string{"dns_answers", "grpc_message", "interim", "tls", "stream", "linked", "record_bytes", "db_user", "req_trailers"} {
		if !checked["exchange"][want] {
			t.Errorf("no exchange record has %s: the representatives no longer cover it", want)
		}
	}
	for _, want := range []string{"orig_dst", "partial", "tunnel_vni", "tunnel_key", "tunnel_depth", "tunnel_server_node", "bytes_s2c"} {
		if !checked["flow"][want] {
			t.Errorf("no flow record has %s: the representatives no longer cover it", want)
		}
	}

	// The check fails for a JSON field nobody declared a variable for.
	bad := subs[0]
	bad.rec.fields = map[string]any{"upstream": "10.0.0.1:80", "proto": "http/1.1"}
	if p, _ := schemaProblems(t, []subject{bad}); len(p) != 1 || !strings.Contains(p[0], `"upstream"`) {
		t.Errorf("an undeclared JSON field was not reported: %q", p)
	}
	// And for a variable whose value disagrees with the JSON.
	bad.rec.fields = map[string]any{"status": json.Number("404")}
	if p, _ := schemaProblems(t, []subject{bad}); len(p) != 2 || !strings.Contains(p[0]+p[1], "status == 404 is false") {
		t.Errorf("a wrong value was not reported by both evaluators: %q", p)
	}
}

// TestJSONOnlyReasons keeps the exception list honest: every entry has a
// reason, names no declared variable, and is what the unknown-variable
// error tells a user who types it.
func TestJSONOnlyReasons(t *testing.T) {
	for _, name := range []string{"type", "id", "duration_ms", "req_trailers", "resp_trailers", "tunnel_depth"} {
		hint, ok := jsonOnly(name)
		if !ok || len(hint) < 20 {
			t.Errorf("%s: no reason given (%q)", name, hint)
		}
		if _, declared := lookup(name); declared {
			t.Errorf("%s is both a variable and listed as having none", name)
		}
		if name == "type" {
			continue // CEL's own type() function: a different error
		}
		_, err := Compile(name + " == 1")
		if err == nil || !strings.Contains(err.Error(), hint) {
			t.Errorf("%s: the error %v does not give the hint %q", name, err, hint)
		}
	}
	if _, ok := jsonOnly("status"); ok {
		t.Error("jsonOnly lists status, which has a variable")
	}
}

// schemaProblems checks the records of subs as TestJSONFieldsHaveVariables
// describes and returns what disagrees, and the JSON fields it saw per
// record type.
func schemaProblems(t *testing.T, subs []subject) ([]string, map[string]map[string]bool) {
	t.Helper()
	decls := map[string]varDecl{}
	for _, d := range declarations() {
		decls[d.Name] = d
	}
	var problems []string
	seen := map[string]map[string]bool{"exchange": {}, "flow": {}} // JSON field names
	vars := map[string]map[string]bool{"exchange": {}, "flow": {}} // their variables
	for _, s := range subs {
		kind := s.rec.typ
		for _, key := range slices.Sorted(maps.Keys(s.rec.fields)) {
			seen[kind][key] = true
			name := key
			if n, ok := jsonRenamed[kind][key]; ok {
				name = n
			}
			if _, ok := jsonOnly(name); ok {
				continue
			}
			d, ok := decls[name]
			if !ok {
				problems = append(problems, fmt.Sprintf("the JSON field %q of %s records has no filter variable: declare one with that name and meaning in env.go, or say in jsonOnly (schema.go) what to write instead", key, kind))
				continue
			}
			if kind == "exchange" && !d.Exchange || kind == "flow" && !d.Flow {
				problems = append(problems, fmt.Sprintf("%s records have the JSON field %q but the variable %s is not declared for them", kind, key, name))
				continue
			}
			vars[kind][name] = true
			lit, ok := celLiteral(d, s.rec.fields[key])
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: the JSON value %v of %q does not fit the variable's type %s", kind, s.rec.fields[key], key, d.Type))
				continue
			}
			expr := name + " == " + lit
			if d.Type == "map(string, string)" {
				expr = lit
			}
			if diff, ok := jsonDiffers[kind][key]; ok {
				expr = strings.ReplaceAll(diff.expr, "JSON", lit)
			}
			problems = append(problems, holds(t, expr, s.vars, fmt.Sprintf("%s %s = %v", kind, key, s.rec.fields[key]))...)
		}
	}
	// A field the JSON leaves out of a record (omitted when empty) is
	// the variable's zero value there, or absent.
	for _, s := range subs {
		kind := s.rec.typ
		for name := range vars[kind] {
			present := false
			for key := range s.rec.fields {
				if key == name || jsonRenamed[kind][key] == name {
					present = true
				}
			}
			if present {
				continue
			}
			if o, ok := jsonOmits[kind][name]; ok && o.when(s.vars) {
				continue
			}
			d := decls[name]
			what := fmt.Sprintf("%s without %s", kind, name)
			if absentable(d.kind) {
				expr := fmt.Sprintf("%s == %s || %s != %s", name, absentProbe(d), name, absentProbe(d))
				problems = append(problems, holdsNot(t, expr, s.vars, what)...)
				continue
			}
			problems = append(problems, holds(t, name+" == "+zeroLiteral(d.Type), s.vars, what)...)
		}
	}
	return problems, seen
}

// absentProbe is a literal of d's type to compare an absent variable with.
func absentProbe(d varDecl) string {
	if d.Type == "timestamp" {
		return `timestamp("2024-01-01T00:00:00Z")`
	}
	return "0"
}

// holds reports a problem unless expr is true on v for both the native
// evaluator and CEL.
func holds(t *testing.T, expr string, v values, what string) []string {
	return evalBoth(t, expr, v, what, true)
}

// holdsNot is holds for an expression that must be false.
func holdsNot(t *testing.T, expr string, v values, what string) []string {
	return evalBoth(t, expr, v, what, false)
}

func evalBoth(t *testing.T, expr string, v values, what string, want bool) []string {
	t.Helper()
	p, err := Compile(expr)
	if err != nil {
		return []string{fmt.Sprintf("%s: %s does not compile: %v", what, expr, err)}
	}
	var out []string
	if p.run(v) != want {
		out = append(out, fmt.Sprintf("%s: %s is %v", what, expr, !want))
	}
	if p.eval(v) != want {
		out = append(out, fmt.Sprintf("%s: %s is %v on CEL", what, expr, !want))
	}
	return out
}

// celLiteral writes the JSON value v as a CEL literal of d's type; for a
// header map, an expression that every JSON header is in it.
func celLiteral(d varDecl, v any) (string, bool) {
	switch d.Type {
	case "string":
		s, ok := v.(string)
		return strconv.Quote(s), ok
	case "int":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); err != nil {
			return "", false
		}
		return n.String(), ok
	case "bool":
		b, ok := v.(bool)
		return strconv.FormatBool(b), ok
	case "timestamp":
		s, ok := v.(string)
		return `timestamp(` + strconv.Quote(s) + `)`, ok
	case "list(string)", "list(int)":
		xs, ok := v.([]any)
		if !ok {
			return "", false
		}
		parts := make([]string, len(xs))
		for i, x := range xs {
			elem := varDecl{Variable: Variable{Type: strings.TrimSuffix(strings.TrimPrefix(d.Type, "list("), ")")}}
			if parts[i], ok = celLiteral(elem, x); !ok {
				return "", false
			}
		}
		return "[" + strings.Join(parts, ", ") + "]", true
	case "map(string, string)":
		pairs, ok := v.([]any)
		if !ok {
			return "", false
		}
		terms := []string{"true"}
		names := map[string]bool{}
		for _, p := range pairs {
			nv, ok := p.([]any)
			if !ok || len(nv) != 2 {
				return "", false
			}
			name, _ := nv[0].(string)
			names[strings.ToLower(name)] = true
			terms = append(terms, fmt.Sprintf("%s in %s", strconv.Quote(name), d.Name))
		}
		// Trailers share the map, so it may hold more names, never fewer.
		terms = append(terms, fmt.Sprintf("size(%s) >= %d", d.Name, len(names)))
		sort.Strings(terms[1:])
		return strings.Join(terms, " && "), true
	}
	return "", false
}
