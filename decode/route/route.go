// Package route names what an exchange asked for with the parts that
// differ per call collapsed (/pets/123 -> /pets/{id}), so calls to one
// endpoint can be grouped and selected together. decode/stats groups by
// it and decode/filter offers it as the variable route; it lives apart
// from both so each can use it (stats already uses filter's variables).
package route

import (
	"net/netip"
	"strings"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/view"
)

// maxTemplate caps a template's length: a group key is kept per group for
// the whole session, and a 1 MiB SQL statement or key must not become
// one. Longer templates end in "…".
const maxTemplate = 200

// MaxLen is the length past which Clip cuts a value.
const MaxLen = maxTemplate

// Shown is Of as a terminal shows it and the stats group it: sanitized
// (view.Sanitize) and cut to MaxLen bytes. The filter variable route is
// this text, so route == "<a stats group's name>" selects exactly that
// group's exchanges, even when the name was escaped or cut.
func Shown(e *decode.Exchange) string { return Clip(view.Sanitize(Of(e))) }

// Of is the default grouping of an exchange: the host, the method (or
// command, statement verb, DNS type, Kafka API) and a template of what
// was asked for in which the parts that differ per call are collapsed, so
// calls to one endpoint land in one group:
//
//   - HTTP, WebSocket: the path without query or fragment, segments that
//     look like ids replaced (see Segment): /pets/123 -> /pets/{id}.
//   - gRPC: service/method.
//   - DNS: the resolver's address, the query type, and the name with
//     id-like labels replaced.
//   - PostgreSQL and MySQL: the SQL text with literals collapsed (see
//     SQL); the verb is left out when the statement starts with it.
//   - Redis: the command and the key with id-like segments replaced
//     (user:123 -> user:{id}).
//   - Kafka: the API and the topics.
//
// Parts that are empty are left out; the parts are joined by one space.
func Of(e *decode.Exchange) string {
	host, method, tmpl := Parts(e)
	parts := make([]string, 0, 3)
	for _, p := range [...]string{host, method, tmpl} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

// Parts returns the three parts Of joins.
func Parts(e *decode.Exchange) (host, method, tmpl string) {
	method = e.Method()
	switch {
	case e.DNS != nil:
		host = addr(e.Server)
		return host, e.DNS.Type, NameTemplate(e.DNS.Name)
	case e.GRPC != nil && e.GRPC.Service != "":
		return e.Host(), method, clipTemplate(e.GRPC.Service + "/" + e.GRPC.Method)
	case e.Query != nil:
		host = e.Host()
		switch e.Proto {
		case "postgres", "mysql":
			tmpl = SQL(e.Path(), e.Proto == "mysql")
			if hasWordPrefix(tmpl, method) {
				method = ""
			}
		case "redis":
			tmpl = KeyTemplate(e.Path())
		default: // kafka: topics, as sent
			tmpl = clipTemplate(e.Path())
		}
		return host, method, tmpl
	case e.Request == nil:
		return e.Host(), "", ""
	}
	if method == "CONNECT" {
		return e.Host(), method, clipTemplate(e.Path())
	}
	return e.Host(), method, PathTemplate(e.Path())
}

// addr is an address without the port for DNS (the resolver), with
// IPv4-mapped addresses shown as IPv4.
func addr(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.Addr().Unmap().String()
}

// hasWordPrefix reports whether s starts with the word w, ignoring case.
func hasWordPrefix(s, w string) bool {
	if w == "" || len(s) < len(w) || !strings.EqualFold(s[:len(w)], w) {
		return false
	}
	return len(s) == len(w) || s[len(w)] == ' ' || s[len(w)] == '('
}

// PathTemplate returns the path of a request target (origin or absolute
// form; query and fragment dropped) with id-like segments replaced.
func PathTemplate(target string) string {
	if i := strings.Index(target, "://"); i > 0 && !strings.HasPrefix(target, "/") {
		rest := target[i+3:]
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			target = rest[j:]
		} else {
			target = ""
		}
	}
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	return clipTemplate(templateSegments(target, "/"))
}

// KeyTemplate replaces id-like segments of a Redis key; segments are
// separated by ':', '/', '.' or '|' as key naming conventions do.
func KeyTemplate(key string) string { return clipTemplate(templateSegments(key, ":/.|")) }

// NameTemplate replaces id-like labels of a DNS name.
func NameTemplate(name string) string { return clipTemplate(templateSegments(name, ".")) }

// templateSegments rewrites each segment between separators with Segment.
func templateSegments(s, seps string) string {
	var b strings.Builder
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && strings.IndexByte(seps, s[i]) < 0 {
			continue
		}
		b.WriteString(Segment(s[start:i]))
		if i < len(s) {
			b.WriteByte(s[i])
		}
		start = i + 1
	}
	return b.String()
}

// Segment returns the placeholder for one path segment, key part or DNS
// label that looks like a per-call value, or the segment unchanged:
//
//   - {id}: digits only (123, 20240101);
//   - {uuid}: 8-4-4-4-12 hex digits;
//   - {hash}: 12 or more hex digits with at least one digit and one
//     letter a-f (commit ids, content hashes);
//   - {token}: 20 or more characters of [A-Za-z0-9_-+=~.] mixing letters
//     and digits, where letters of both cases or no separator occur
//     (base64/base64url tokens, JWTs); slugs of words joined by '-' such
//     as "release-notes-for-2024" stay.
func Segment(s string) string {
	if s == "" {
		return s
	}
	switch {
	case allDigits(s):
		return "{id}"
	case isUUID(s):
		return "{uuid}"
	case isHash(s):
		return "{hash}"
	case isToken(s):
		return "{token}"
	}
	return s
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

func isHash(s string) bool {
	if len(s) < 12 {
		return false
	}
	digit, letter := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case isHex(c):
			letter = true
		default:
			return false
		}
	}
	return digit && letter
}

func isToken(s string) bool {
	if len(s) < 20 {
		return false
	}
	var upper, lower, digit, sep bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= '0' && c <= '9':
			digit = true
		case c == '-' || c == '.' || c == '_' || c == '~':
			sep = true
		case c == '+' || c == '=':
		default:
			return false
		}
	}
	return digit && (upper || lower) && (upper && lower || !sep)
}

// Clip bounds a value's length to MaxLen bytes, cutting at a rune
// boundary and marking the cut with "…". Clipping twice changes nothing.
func Clip(s string) string { return clipTemplate(s) }

// clipTemplate bounds a template's length (see maxTemplate), cutting at a
// rune boundary.
func clipTemplate(s string) string {
	if len(s) <= maxTemplate {
		return s
	}
	cut := maxTemplate
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
