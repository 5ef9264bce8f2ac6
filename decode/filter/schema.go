package filter

// jsonOnly says why a field of the JSON output (export/jsonl) has no
// filter variable of the same name and what to write instead; ok is false
// for every other name. Every other JSON field has a variable with its
// name and meaning, which schema_test.go checks against the encoder, so
// a filter can be written from a line of `-o json`; this table is the
// whole list of exceptions, and the unknown-variable error quotes it.
func jsonOnly(name string) (hint string, ok bool) {
	switch name {
	case "type":
		return `the list decides it: exchanges by default, flows with --flows or the flows view`, true
	case "id":
		return `exchange and flow ids are numbered apart; flow == N selects a flow and its exchanges`, true
	case "duration_ms":
		return `latency is the same span as a duration: latency > duration("250ms")`, true
	case "req_trailers", "resp_trailers":
		return `trailers are in req_headers and resp_headers: "grpc-status" in resp_headers`, true
	case "tunnel_depth":
		return `the nesting depth of tunnels has no variable; tunnel names the outermost encapsulation`, true
	}
	return "", false
}
