package mask

import (
	"bytes"
	"regexp"
)

// span is a byte range [lo, hi) holding a secret value.
type span struct{ lo, hi int }

// finder appends the secret spans it finds in b to out. Finders never
// write to b and allocate only when they find something.
type finder func(b []byte, out []span) []span

// isTokenChar reports characters of bearer tokens (RFC 6750 b64token).
func isTokenChar(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
}

// indexFold returns the index of the lower-case ASCII term in b at or
// after from, ignoring case, or -1. Candidates are found with the
// vectorised IndexByte for both cases of the first letter.
func indexFold(b []byte, from int, term string) int {
	first := term[0]
	upper := first
	if isLower(first) {
		upper = first - 'a' + 'A'
	}
	last := len(b) - len(term) // last possible start
	nextLo, nextUp := -2, -2   // -2: not searched yet; -1: none left
	for i := from; i <= last; {
		if nextLo != -1 && nextLo < i {
			nextLo = indexByteFrom(b[:last+1], i, first)
		}
		if nextUp != -1 && nextUp < i {
			nextUp = indexByteFrom(b[:last+1], i, upper)
		}
		switch {
		case nextLo < 0 && nextUp < 0:
			return -1
		case nextUp < 0 || nextLo >= 0 && nextLo < nextUp:
			i = nextLo
		default:
			i = nextUp
		}
		k := 1
		for k < len(term) && lower(b[i+k]) == term[k] {
			k++
		}
		if k == len(term) {
			return i
		}
		i++
	}
	return -1
}

func indexByteFrom(b []byte, from int, c byte) int {
	if from >= len(b) {
		return -1
	}
	if k := bytes.IndexByte(b[from:], c); k >= 0 {
		return from + k
	}
	return -1
}

// findBearer masks the credential after "Bearer " anywhere (logs, JSON,
// headers), keeping the scheme word readable.
func findBearer(b []byte, out []span) []span {
	for i := 0; ; {
		i = indexFold(b, i, "bearer")
		if i < 0 {
			return out
		}
		j := i + len("bearer")
		if i > 0 && isAlnum(b[i-1]) {
			i = j
			continue
		}
		k := j
		for k < len(b) && (b[k] == ' ' || b[k] == '\t') {
			k++
		}
		start := k
		for k < len(b) && isTokenChar(b[k]) {
			k++
		}
		for k < len(b) && b[k] == '=' {
			k++
		}
		if start > j && k-start >= 8 {
			out = append(out, span{start, k})
		}
		i = max(k, j)
	}
}

func isB64URL(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

// findJWT masks JSON Web Tokens: three base64url segments, the first
// starting with "eyJ" (the encoding of `{"`).
func findJWT(b []byte, out []span) []span {
	for i := 0; i < len(b); {
		k := bytes.Index(b[i:], []byte("eyJ"))
		if k < 0 {
			return out
		}
		// No boundary is required before "eyJ": in binary payloads
		// (protobuf) the byte before a token is often a length that
		// happens to be a letter.
		start := i + k
		i = start + 3
		end, ok := start, true
		for seg := 0; seg < 3 && ok; seg++ {
			s := end
			for end < len(b) && isB64URL(b[end]) {
				end++
			}
			switch {
			case seg < 2 && (end-s < 4 || end >= len(b) || b[end] != '.'):
				ok = false
			case seg < 2:
				end++ // the dot
			}
		}
		if ok {
			out = append(out, span{start, end})
			i = end
		}
	}
	return out
}

// awsPrefixes are the four-letter prefixes of AWS access key ids.
func isAWSPrefix(p []byte) bool {
	switch string(p) {
	case "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "AROA", "APKA":
		return true
	}
	return false
}

// findAWSKey masks AWS access key ids (AKIA... and friends), keeping the
// four-letter prefix that tells what kind of key it was.
func findAWSKey(b []byte, out []span) []span {
	for i := 0; i+20 <= len(b); {
		k := bytes.IndexByte(b[i:len(b)-19], 'A')
		if k < 0 {
			return out
		}
		s := i + k
		i = s + 1
		if s > 0 && isAlnum(b[s-1]) || !isAWSPrefix(b[s:s+4]) {
			continue
		}
		ok := true
		for _, c := range b[s+4 : s+20] {
			if !isUpper(c) && !isDigit(c) {
				ok = false
				break
			}
		}
		if ok && (s+20 == len(b) || !isAlnum(b[s+20])) {
			out = append(out, span{s + 4, s + 20})
			i = s + 20
		}
	}
	return out
}

// luhn reports whether the digits pass the Luhn checksum.
func luhn(digits []byte) bool {
	sum, double := 0, false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// findCard masks payment card numbers: 13 to 19 digits, optionally in
// groups separated by single spaces or dashes, starting with 2-6 (the
// card networks' ranges), passing the Luhn check. The Luhn check and
// the leading digit keep timestamps and ids from being taken for cards.
// A run of digit groups ("call 2025550123 4111 1111 1111 1111 ext 5")
// is searched for any consecutive groups that form a card.
func findCard(b []byte, out []span) []span {
	var groups [32]span
	for i := 0; i < len(b); {
		if !isDigit(b[i]) || i > 0 && (isAlnum(b[i-1]) || b[i-1] == '.') {
			i++
			continue
		}
		// One run of digit groups joined by single separators.
		n, end, digits := 0, i, 0
		for end < len(b) && n < len(groups) {
			lo := end
			for end < len(b) && isDigit(b[end]) {
				end++
			}
			groups[n] = span{lo, end}
			digits += end - lo
			n++
			if end+1 < len(b) && (b[end] == ' ' || b[end] == '-') && isDigit(b[end+1]) {
				end++
				continue
			}
			break
		}
		// A run glued to letters or continuing as a decimal is not a
		// number on its own; drop its last group.
		if end < len(b) && (isLetter(b[end]) || b[end] == '.' && end+1 < len(b) && isDigit(b[end+1])) {
			n--
			digits -= groups[n].hi - groups[n].lo
		}
		if digits >= 13 { // fewer cannot make a card
			out = cardWindows(b, groups[:max(n, 0)], out)
		}
		i = end + 1
	}
	return out
}

// cardWindows appends the longest valid card made of consecutive groups
// at each position, left to right, without overlap.
func cardWindows(b []byte, groups []span, out []span) []span {
	var digits [19]byte
	for first := 0; first < len(groups); {
		best := -1
		n := 0
		for last := first; last < len(groups); last++ {
			g := groups[last]
			if n+g.hi-g.lo > len(digits) {
				break
			}
			n += copy(digits[n:], b[g.lo:g.hi])
			if n >= 13 && digits[0] >= '2' && digits[0] <= '6' && luhn(digits[:n]) {
				best = last
			}
		}
		if best < 0 {
			first++
			continue
		}
		out = append(out, span{groups[first].lo, groups[best].hi})
		first = best + 1
	}
	return out
}

func isLocalChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

// findEmail masks the local part of e-mail addresses, keeping the domain
// (it says which system the address belongs to, which helps debugging
// and is rarely personal). "%40" counts as "@" so URL-encoded addresses
// in query strings and forms are found too.
func findEmail(b []byte, out []span) []span {
	nextAt, nextPct := -2, -2
	for i := 0; i < len(b); i++ {
		if nextAt != -1 && nextAt < i {
			nextAt = indexByteFrom(b, i, '@')
		}
		if nextPct != -1 && nextPct < i {
			nextPct = indexByteFrom(b, i, '%')
		}
		switch {
		case nextAt < 0 && nextPct < 0:
			return out
		case nextPct < 0 || nextAt >= 0 && nextAt < nextPct:
			i = nextAt
		default:
			i = nextPct
		}
		at := 1
		if b[i] == '%' {
			if i+2 >= len(b) || b[i+1] != '4' || b[i+2] != '0' {
				continue
			}
			at = 3
		}
		lo := i
		for lo > 0 && isLocalChar(b[lo-1]) {
			lo--
		}
		// An encoded "@" must not be swallowed into the local part of a
		// later one, and a local part never starts with a dot.
		for lo < i && b[lo] == '.' {
			lo++
		}
		if lo == i || !validDomain(b[i+at:]) {
			continue
		}
		out = append(out, span{lo, i})
	}
	return out
}

// validDomain reports whether b starts with a domain name of at least two
// labels whose last label is two or more letters.
func validDomain(b []byte) bool {
	labels, lastLetters, cur, letters := 0, false, 0, true
	for _, c := range b {
		switch {
		case isAlnum(c) || c == '-' || c == '*':
			// '*' is what masking writes; counting it as a non-letter
			// keeps masked text from forming a new address.
			cur++
			letters = letters && isLetter(c)
			continue
		case c == '.' && cur > 0:
			labels++
			cur, letters = 0, true
			continue
		}
		break
	}
	if cur > 0 {
		labels++
		lastLetters = letters && cur >= 2
	}
	return labels >= 2 && lastLetters
}

// findURLPassword masks the credentials in the userinfo of URLs: the
// password of "scheme://user:password@host", or a user part that is
// itself a token ("https://<token>@github.com"). Usernames stay. The
// userinfo ends at the last '@' before the host, because passwords are
// often written with a raw '@' in them. URLs inside JSON with escaped
// slashes ("https:\/\/") and URLs percent-encoded into a parameter
// ("next=https%3A%2F%2Fuser%3Apass%40host") are found too.
func findURLPassword(b []byte, out []span) []span {
	// The slashes are searched for rather than the colon: JSON has a
	// colon per member, while "//" is rare outside URLs.
	for _, sep := range [2]string{"//", `\/\/`} {
		for i := 1; i < len(b); {
			k := bytes.Index(b[i:], []byte(sep))
			if k < 0 {
				break
			}
			k += i
			i = k + len(sep)
			if b[k-1] == ':' {
				i = urlUserinfo(b, i, false, &out)
			}
		}
	}
	for i := 0; ; {
		k := indexFold(b, i, "%3a%2f%2f")
		if k < 0 {
			break
		}
		i = urlUserinfo(b, k+9, true, &out)
	}
	return out
}

// urlUserinfo appends the secret span of the authority starting at s, if
// it has userinfo, and returns where scanning should go on. With encoded
// set, the URL is percent-encoded: ':' is %3A, '@' is %40, and '&' or an
// encoded '/', '?' or '#' ends the authority.
func urlUserinfo(b []byte, s int, encoded bool, out *[]span) int {
	colon, colonLen, at := -1, 1, -1
	j := s
scan:
	for ; j < len(b); j++ {
		c := b[j]
		if c == '/' || c == '?' || c == '#' || c <= ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\' {
			break scan
		}
		if !encoded {
			switch c {
			case ':':
				if colon < 0 && at < 0 {
					colon = j
				}
			case '@':
				at = j
			}
			continue
		}
		if c == '&' {
			break scan
		}
		if c != '%' || j+2 >= len(b) {
			continue
		}
		switch e := [2]byte{b[j+1], lower(b[j+2])}; e {
		case [2]byte{'2', 'f'}, [2]byte{'3', 'f'}, [2]byte{'2', '3'}:
			break scan
		case [2]byte{'3', 'a'}:
			if colon < 0 && at < 0 {
				colon, colonLen = j, 3
			}
		case [2]byte{'4', '0'}:
			at = j
		}
	}
	if at < 0 {
		return max(j, s)
	}
	switch {
	case colon >= 0 && colon < at:
		if at > colon+colonLen {
			*out = append(*out, span{colon + colonLen, at})
		}
	case looksLikeToken(b[s:at]):
		*out = append(*out, span{s, at})
	}
	return at + 1
}

// looksLikeToken reports whether a URL's user part is an access token
// rather than a user name: long, with both letters and digits.
func looksLikeToken(u []byte) bool {
	if len(u) < 20 {
		return false
	}
	var letter, digit bool
	for _, c := range u {
		letter = letter || isLetter(c)
		digit = digit || isDigit(c)
	}
	return letter && digit
}

// regexFinder masks each match of re, or its first group when it has
// groups.
func regexFinder(re *regexp.Regexp) finder {
	group := re.NumSubexp() > 0
	return func(b []byte, out []span) []span {
		for _, m := range re.FindAllSubmatchIndex(b, -1) {
			lo, hi := m[0], m[1]
			if group {
				lo, hi = m[2], m[3]
			}
			if lo >= 0 && hi > lo {
				out = append(out, span{lo, hi})
			}
		}
		return out
	}
}

// literalFinder masks each occurrence of a fixed string.
func literalFinder(lit string) finder {
	needle := []byte(lit)
	return func(b []byte, out []span) []span {
		for i := 0; ; {
			k := bytes.Index(b[i:], needle)
			if k < 0 {
				return out
			}
			out = append(out, span{i + k, i + k + len(needle)})
			i += k + len(needle)
		}
	}
}
