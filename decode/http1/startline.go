package http1

import (
	"bytes"
	"strings"
)

// kind classifies the bytes at a possible message start.
type kind uint8

const (
	kindNo      kind = iota // cannot be an HTTP/1 start line
	kindMore                // a plausible prefix; the line is not complete yet
	kindRequest             // a complete, valid request line
	kindStatus              // a complete, valid status line
)

// maxMethod bounds a method token; real methods are short and a long
// token is more likely binary data than HTTP.
const maxMethod = 24

// knownMethods are the request methods Detect trusts from a prefix alone
// (RFC 9110, WebDAV and its extensions, UPnP, common proxies), separated
// by spaces. Any other token is accepted only with a complete
// "TOKEN SP target SP HTTP/1.x" line. PRI is deliberately absent:
// "PRI * HTTP/2.0" is the HTTP/2 preface.
const knownMethods = "GET HEAD POST PUT DELETE CONNECT OPTIONS TRACE PATCH QUERY " +
	"PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK SEARCH " +
	"REPORT MKACTIVITY CHECKOUT CHECKIN UNCHECKOUT MERGE MKCALENDAR " +
	"ACL BIND UNBIND REBIND LINK UNLINK VERSION-CONTROL MKWORKSPACE " +
	"UPDATE LABEL BASELINE-CONTROL MKREDIRECTREF UPDATEREDIRECTREF ORDERPATCH " +
	"PURGE M-SEARCH NOTIFY SUBSCRIBE UNSUBSCRIBE"

// isTchar reports whether c may appear in an RFC 9110 token.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// isTargetByte reports whether c may appear in a request-target as seen
// on the wire: visible ASCII, plus bytes >= 0x80 that lenient clients send.
func isTargetByte(c byte) bool { return c > ' ' && c != 0x7f }

// knownMethodPrefix reports whether b starts with a known method followed
// by a space (yes), could still become one (more), or neither.
func knownMethodPrefix(b []byte) (yes, more bool) {
	rest := knownMethods
	for rest != "" {
		m := rest
		if i := strings.IndexByte(rest, ' '); i >= 0 {
			m, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if len(b) > len(m) {
			if string(b[:len(m)]) == m && b[len(m)] == ' ' {
				return true, false
			}
		} else if string(b) == m[:len(b)] {
			more = true
		}
	}
	return false, more
}

// classify looks at b as the start of a message. For complete lines it
// returns the kind and the offset just past the line's '\n'.
func classify(b []byte) (kind, int) {
	nl := bytes.IndexByte(b, '\n')
	line := trimCR(b)
	if nl >= 0 {
		line = trimCR(b[:nl])
	}
	if hasPrefixOrIsPrefix(line, "HTTP/") {
		if nl < 0 {
			if statusPrefixOK(line) {
				return kindMore, -1
			}
			return kindNo, -1
		}
		if _, _, _, ok := parseStatusLine(line); ok {
			return kindStatus, nl + 1
		}
		return kindNo, -1
	}
	if nl < 0 {
		if requestPrefixOK(line) {
			return kindMore, -1
		}
		return kindNo, -1
	}
	if _, _, _, ok := parseRequestLine(line); ok {
		return kindRequest, nl + 1
	}
	return kindNo, -1
}

// hasPrefixOrIsPrefix reports whether b starts with p, or b is shorter
// than p and p starts with b.
func hasPrefixOrIsPrefix(b []byte, p string) bool {
	if len(b) >= len(p) {
		return string(b[:len(p)]) == p
	}
	return string(b) == p[:len(b)]
}

// statusPrefixOK checks an incomplete status line against "HTTP/d.d ddd ".
func statusPrefixOK(b []byte) bool {
	const pattern = "HTTP/1.d ddd "
	for i := 0; i < len(b) && i < len(pattern); i++ {
		switch p := pattern[i]; p {
		case 'd':
			if b[i] < '0' || b[i] > '9' {
				return false
			}
		default:
			if b[i] != p {
				return false
			}
		}
	}
	if len(b) > len(pattern) {
		return noCTL(b[len(pattern):])
	}
	return true
}

// requestPrefixOK checks an incomplete request line: a token, a space, a
// target without spaces, a space and a prefix of "HTTP/1.".
func requestPrefixOK(b []byte) bool {
	i := 0
	for i < len(b) && isTchar(b[i]) {
		i++
	}
	if i == len(b) {
		return i <= maxMethod
	}
	if i == 0 || i > maxMethod || b[i] != ' ' {
		return false
	}
	i++
	j := i
	for j < len(b) && isTargetByte(b[j]) {
		j++
	}
	if j == len(b) {
		return true
	}
	if j == i || b[j] != ' ' {
		return false
	}
	rest := b[j+1:]
	if len(rest) > len("HTTP/1.1") {
		return false
	}
	return hasPrefixOrIsPrefix(rest, "HTTP/1.")
}

func noCTL(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// parseRequestLine splits "METHOD SP target SP HTTP/1.x" (CR removed).
func parseRequestLine(line []byte) (method, target, proto []byte, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || sp > maxMethod {
		return nil, nil, nil, false
	}
	method = line[:sp]
	for _, c := range method {
		if !isTchar(c) {
			return nil, nil, nil, false
		}
	}
	rest := line[sp+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return nil, nil, nil, false
	}
	target = rest[:sp2]
	for _, c := range target {
		if !isTargetByte(c) {
			return nil, nil, nil, false
		}
	}
	proto = trimSpaceBytes(rest[sp2+1:])
	if !isHTTP1(proto) {
		return nil, nil, nil, false
	}
	return method, target, proto, true
}

// parseStatusLine splits "HTTP/1.x SP ddd [SP reason]" (CR removed).
func parseStatusLine(line []byte) (proto []byte, status int, reason []byte, ok bool) {
	if len(line) < 12 || !isHTTP1(line[:8]) || line[8] != ' ' {
		return nil, 0, nil, false
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return nil, 0, nil, false
		}
		status = status*10 + int(c-'0')
	}
	if status < 100 {
		return nil, 0, nil, false
	}
	rest := line[12:]
	if len(rest) > 0 {
		if rest[0] != ' ' && rest[0] != '\t' {
			return nil, 0, nil, false
		}
		if !noCTL(rest) {
			return nil, 0, nil, false
		}
		reason = trimSpaceBytes(rest)
	}
	return line[:8], status, reason, true
}

// isHTTP1 reports whether p is "HTTP/1.<digit>".
func isHTTP1(p []byte) bool {
	return len(p) == 8 && string(p[:7]) == "HTTP/1." && p[7] >= '0' && p[7] <= '9'
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

func trimSpaceBytes(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
