package ui

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/view"
)

// Curl renders the request of e as a curl command line that a POSIX shell
// (bash, zsh) runs as captured: method, URL, headers in wire order and the
// body. It does not mask; callers pass a masked copy unless the user
// unmasked. Hop-by-hop and length headers are left to curl. A body that
// cannot travel as a shell argument (binary, or compressed) is referenced
// as @body.bin with a comment saying so.
func Curl(e *decode.Exchange) string {
	req := e.Request
	if req == nil {
		return ""
	}
	scheme := req.Scheme
	if scheme == "" {
		scheme = "http"
		if e.TLS || e.SNI != "" {
			scheme = "https"
		}
	}
	host := req.Host
	if host == "" && e.Server.IsValid() {
		host = e.Server.String()
	}
	url := req.Target
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		if !strings.HasPrefix(url, "/") {
			url = "/" + url
		}
		url = scheme + "://" + host + url
	}

	var notes []string
	args := []string{"curl"}
	switch e.Proto {
	case "h2", "grpc":
		if scheme == "https" {
			args = append(args, "--http2")
		} else {
			args = append(args, "--http2-prior-knowledge")
		}
	}
	hasBody := len(req.Body) > 0
	if m := req.Method; m != "" && !(m == "GET" && !hasBody) && !(m == "POST" && hasBody) {
		args = append(args, "-X "+shellQuote(m))
	}
	args = append(args, shellQuote(url))
	for _, h := range req.Headers {
		if strings.EqualFold(h.Name, "Accept-Encoding") && h.Value != "" && h.Value != "identity" {
			// Without it curl would print the compressed response.
			args = append(args, "--compressed")
			break
		}
	}
	for _, h := range req.Headers {
		if skipCurlHeader(h.Name, h.Value, host) {
			continue
		}
		args = append(args, "-H "+shellQuote(h.Name+": "+h.Value))
	}
	if hasBody {
		if curlableText(req.Body) && len(req.ContentEncoding) == 0 {
			args = append(args, "--data-binary "+shellQuote(string(req.Body)))
		} else {
			args = append(args, "--data-binary @body.bin")
			notes = append(notes, fmt.Sprintf("# body.bin: the %d-byte request body (binary or content-encoded; export it from the raw tab)", len(req.Body)))
		}
		if req.Truncated {
			notes = append(notes, fmt.Sprintf("# the captured body was truncated: %d of %d bytes", len(req.Body), req.BodySize))
		}
	}
	cmd := strings.Join(args, " \\\n  ")
	if len(notes) > 0 {
		cmd = strings.Join(notes, "\n") + "\n" + cmd
	}
	return cmd
}

// skipCurlHeader drops headers curl derives itself or that only make sense
// on the original connection.
func skipCurlHeader(name, value, host string) bool {
	if strings.HasPrefix(name, ":") {
		return true
	}
	switch strings.ToLower(name) {
	case "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
		"proxy-connection", "http2-settings":
		return true
	case "host":
		return value == host
	}
	return false
}

// curlableText reports whether a body can be passed as a quoted argument.
func curlableText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c == 0 {
			return false
		}
	}
	return true
}

// shellQuote quotes s for a POSIX shell. Plain words stay bare; text is
// single-quoted; anything with control or bidi characters uses $'...'
// with \xNN escapes so no raw escape sequence reaches the clipboard or a
// terminal.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !safeShellRune(r) }) < 0 {
		return s
	}
	plain := utf8.ValidString(s)
	for _, r := range s {
		if r != '\n' && r != '\t' && hostileRune(r) {
			plain = false
			break
		}
	}
	if plain {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1, hostileRune(r):
			for _, c := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, `\x%02x`, c)
			}
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	b.WriteByte('\'')
	return b.String()
}

// hostileRune reports runes a terminal would interpret or that reorder
// text, exactly those view.Sanitize escapes.
func hostileRune(r rune) bool {
	s := string(r)
	return view.Sanitize(s) != s
}

func safeShellRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r)
}
