package taptrace

// isTraceKind reports whether name is one of TraceWrapper's oneof field
// names, each of which starts a new trace in a text-format stream.
func isTraceKind(name []byte) bool {
	switch string(name) {
	case "http_buffered_trace", "http_streamed_trace_segment",
		"socket_buffered_trace", "socket_streamed_trace_segment":
		return true
	}
	return false
}

// splitText cuts Envoy's .pb_text output into one TraceWrapper each. With
// a streaming tap, Envoy appends every segment of a trace to the same
// file as text, which parses as one message with a repeated oneof (an
// error), so the file is cut before each top-level trace field after the
// first. Strings, comments and nesting are skipped, so field names inside
// values never cut.
func splitText(b []byte) [][]byte {
	var out [][]byte
	start, depth := 0, 0
	seen := false
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '#':
			for i < len(b) && b[i] != '\n' {
				i++
			}
			continue
		case c == '"' || c == '\'':
			i++
			for i < len(b) && b[i] != c && b[i] != '\n' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			i++
			continue
		case c == '{' || c == '<':
			depth++
		case c == '}' || c == '>':
			if depth > 0 {
				depth--
			}
		case depth == 0 && isIdentStart(c):
			j := i
			for j < len(b) && isIdentChar(b[j]) {
				j++
			}
			if isTraceKind(b[i:j]) {
				if seen {
					out = append(out, b[start:i])
					start = i
				}
				seen = true
			}
			i = j
			continue
		}
		i++
	}
	if start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' }
