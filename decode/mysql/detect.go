package mysql

import "github.com/tapview/tapview/decode"

// Detection bounds.
const (
	// maxGreeting bounds a server greeting's length: version string,
	// scramble, capabilities and plugin name fit well within it.
	maxGreeting = 1024
	// minQueryProbe is how much SQL text a probe must hold before a
	// command cut off by the probe's end is accepted.
	minQueryProbe = 12
)

// detect decides whether p, the first bytes of one direction, start a
// MySQL connection (a server greeting) or, for a connection joined
// mid-stream, a client command.
func detect(p []byte) decode.Verdict {
	if len(p) < 5 {
		if len(p) == 4 && p[3] != 0 {
			return decode.No
		}
		return decode.NeedMore
	}
	l := int(p[0]) | int(p[1])<<8 | int(p[2])<<16
	if p[3] != 0 || l == 0 {
		return decode.No
	}
	if p[4] == 10 {
		return detectGreeting(p, l)
	}
	if p[4] == 0xff {
		return detectRefusal(p, l)
	}
	return commandStart(p)
}

// detectGreeting accepts protocol 10 and a version string of printable
// bytes ending in NUL that starts with a digit.
func detectGreeting(p []byte, l int) decode.Verdict {
	if l < 30 || l > maxGreeting {
		return decode.No
	}
	v := p[5:]
	for i, c := range v {
		if c == 0 {
			if i == 0 || v[0] < '0' || v[0] > '9' {
				return decode.No
			}
			return decode.Yes
		}
		if c < 0x20 || c > 0x7e || i > 100 {
			return decode.No
		}
	}
	if len(v) > 0 && (v[0] < '0' || v[0] > '9') {
		return decode.No
	}
	return decode.NeedMore
}

// detectRefusal accepts the ERR packet a server sends instead of a
// greeting ("Too many connections", "Host is blocked"): error number and
// a printable message filling the packet.
func detectRefusal(p []byte, l int) decode.Verdict {
	if l < 4 || l > maxGreeting {
		return decode.No
	}
	if len(p) < 4+l {
		if len(p) < 32 {
			return decode.NeedMore
		}
		return decode.No
	}
	if len(p) != 4+l || !isText(p[7:4+l]) {
		return decode.No
	}
	return decode.Yes
}

// commandStart says whether p starts with a client command packet
// plausible enough to join a connection mid-stream: SQL beginning with a
// statement keyword, a schema name, or one of the short fixed commands
// filling the probe exactly.
func commandStart(p []byte) decode.Verdict {
	if len(p) < 5 || p[3] != 0 {
		return decode.No
	}
	l := int(p[0]) | int(p[1])<<8 | int(p[2])<<16
	whole := len(p) == 4+l
	if len(p) > 4+l {
		return decode.No // a command is alone in its first segment
	}
	arg := p[5:]
	switch p[4] {
	case comQuery, comStmtPrepare:
		if l < 2 || !isText(arg) {
			return decode.No
		}
		if !whole && len(arg) < minQueryProbe {
			return decode.NeedMore
		}
		if !sqlKeyword(arg) {
			return decode.No
		}
		return decode.Yes
	case comInitDB:
		if whole && l >= 2 && l <= 65 && identifier(arg) {
			return decode.Yes
		}
	case comQuit, comPing, comStatistics, comResetConnection:
		if whole && l == 1 {
			return decode.Yes
		}
	case comStmtClose, comStmtReset:
		if whole && l == 5 {
			return decode.Yes
		}
	case comStmtExecute:
		// Statement id, cursor flags, iteration count 1.
		if l >= 10 && len(p) >= 14 && p[9] <= 0x0f && p[10] == 1 && p[11]|p[12]|p[13] == 0 {
			return decode.Yes
		}
	}
	return decode.No
}

func identifier(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == ' ' {
			return false
		}
	}
	return len(b) > 0
}

// sqlKeyword reports SQL text whose first word (after blanks, comments
// and parentheses) is a statement keyword.
func sqlKeyword(b []byte) bool {
	switch verb(string(b)) {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "SET", "SHOW", "CREATE", "DROP",
		"ALTER", "BEGIN", "START", "COMMIT", "ROLLBACK", "CALL", "USE", "WITH", "EXPLAIN",
		"DESCRIBE", "DESC", "PREPARE", "EXECUTE", "DEALLOCATE", "GRANT", "REVOKE", "TRUNCATE",
		"LOAD", "LOCK", "UNLOCK", "ANALYZE", "OPTIMIZE", "KILL", "FLUSH", "XA", "SAVEPOINT",
		"RELEASE", "HANDLER", "DO", "VALUES", "TABLE", "RENAME", "CHECKSUM", "SAVE", "RESET",
		"INSTALL", "UNINSTALL", "HELP", "CHECK", "REPAIR", "SIGNAL", "RESIGNAL", "PURGE":
		return true
	}
	return false
}

// verb returns the statement's first keyword in upper case, skipping
// blanks, comments (a MySQL executable comment /*!nnnnn ... */ is read
// as SQL) and opening parentheses; "" when there is none.
func verb(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(':
			i++
		case c == '#' || c == '-' && i+2 < len(s) && s[i+1] == '-' && (s[i+2] == ' ' || s[i+2] == '\t'):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			if i+2 < len(s) && s[i+2] == '!' {
				i += 3
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					i++
				}
				continue
			}
			if i+3 < len(s) && s[i+2] == 'M' && s[i+3] == '!' {
				i += 4
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					i++
				}
				continue
			}
			j := indexFrom(s, "*/", i+2)
			if j < 0 {
				return ""
			}
			i = j + 2
		default:
			j := i
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] == '_') {
				j++
			}
			if j == i || j-i > 32 {
				return ""
			}
			return upper(s[i:j])
		}
	}
	return ""
}

func indexFrom(s, sub string, from int) int {
	for i := from; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
