package redis

import "strings"

// SecretArgs returns, in ascending order, the indexes of a command's
// arguments (args[0] is the command name) that carry passwords: AUTH
// [user] pass, HELLO … AUTH user pass, MIGRATE … AUTH pass / AUTH2 user
// pass, CONFIG SET requirepass|masterauth value, and ACL SETUSER rules
// that set or remove a password (>pass, <pass, #hash, !hash). The
// decoder shows them only in a Password header; packet export
// (export/streammask) overwrites the same arguments, so both read the
// rule from here.
func SecretArgs(args [][]byte) []int {
	if len(args) < 2 {
		return nil
	}
	var out []int
	switch upper(args[0]) {
	case "AUTH":
		for i := max(1, len(args)-1); i < len(args); i++ {
			out = append(out, i)
		}
		if len(args) > 3 {
			// Not a valid AUTH: every argument may be the password.
			out = out[:0]
			for i := 1; i < len(args); i++ {
				out = append(out, i)
			}
		}
	case "HELLO":
		for i := 2; i < len(args); i++ {
			switch upper(args[i]) {
			case "AUTH":
				if i+2 < len(args) {
					out = append(out, i+2)
				} else if i+1 < len(args) {
					out = append(out, i+1)
				}
				i += 2
			case "SETNAME":
				i++
			}
		}
	case "MIGRATE":
		for i := 6; i < len(args); i++ {
			switch upper(args[i]) {
			case "AUTH":
				if i+1 < len(args) {
					out = append(out, i+1)
				}
				i++
			case "AUTH2":
				if i+2 < len(args) {
					out = append(out, i+2)
				}
				i += 2
			case "KEYS":
				return out
			}
		}
	case "CONFIG":
		if upper(args[1]) != "SET" {
			return nil
		}
		for i := 2; i+1 < len(args); i += 2 {
			switch strings.ToLower(string(args[i])) {
			case "requirepass", "masterauth":
				out = append(out, i+1)
			}
		}
	case "ACL":
		if upper(args[1]) != "SETUSER" {
			return nil
		}
		for i := 3; i < len(args); i++ {
			if a := args[i]; len(a) > 0 && (a[0] == '>' || a[0] == '<' || a[0] == '#' || a[0] == '!') {
				out = append(out, i)
			}
		}
	}
	return out
}

// upper returns b upper-cased as a string.
func upper(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return strings.ToUpper(string(b))
}
