package filter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// MaxLength is the longest filter expression accepted, the same bound
// pcap-release agents apply, so a hostile request cannot make the compiler
// work on megabytes of text.
const MaxLength = 5000

// maxDepth bounds nesting of parentheses and negations so the recursive
// parser and code generator cannot exhaust the stack.
const maxDepth = 64

// Error is a filter the compiler cannot turn into BPF: a syntax error, a
// tcpdump feature outside the supported subset, or a program too large. It
// names the offending token so the user can fix the filter.
type Error struct {
	// Pos is the byte offset of Token in the expression, -1 when the error
	// concerns the whole expression.
	Pos int
	// Token is the offending word as written, "" at the end of input.
	Token string
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem with the token and its offset.
func (e *Error) Error() string {
	switch {
	case e.Pos < 0:
		return "capture filter: " + e.Msg
	case e.Token == "":
		return fmt.Sprintf("capture filter: %s at end of expression", e.Msg)
	default:
		return fmt.Sprintf("capture filter: %s: %q at offset %d", e.Msg, e.Token, e.Pos)
	}
}

// token is one lexical unit with its position.
type token struct {
	text string
	pos  int
}

// lex splits an expression into words and punctuation. Words are runs of
// characters that may appear in addresses, prefixes, numbers and port
// ranges; any other character is a token of its own, which the parser then
// reports as unsupported (tcpdump's byte-offset syntax "tcp[13]" ends here).
func lex(s string) []token {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			toks = append(toks, token{s[i:j], i})
			i = j
		case (c == '&' || c == '|') && i+1 < len(s) && s[i+1] == c:
			toks = append(toks, token{s[i : i+2], i})
			i += 2
		default:
			toks = append(toks, token{s[i : i+1], i})
			i++
		}
	}
	return toks
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == ':' || c == '/' || c == '-' || c == '_'
}

// Qualifier words of the supported subset.
var (
	protoWords = map[string]bool{"ip": true, "ip6": true, "arp": true, "rarp": true,
		"tcp": true, "udp": true, "sctp": true, "icmp": true, "icmp6": true}
	dirWords  = map[string]bool{"src": true, "dst": true}
	typeWords = map[string]bool{"host": true, "net": true, "port": true, "portrange": true}
)

// parser is a recursive-descent parser for the supported tcpdump subset.
// tcpdump gives "and" and "or" equal precedence with left associativity and
// lets a bare id reuse the qualifiers of the primitive before it
// ("port 80 or 443"); both rules are kept here.
type parser struct {
	toks  []token
	i     int
	depth int
	last  *qual // qualifiers of the previous primitive with an id
}

type qual struct {
	proto string
	dir   direction
	typ   string
}

func parse(s string) (node, error) {
	if len(s) > MaxLength {
		return nil, &Error{Pos: -1, Msg: fmt.Sprintf("expression is %d bytes, the limit is %d", len(s), MaxLength)}
	}
	p := &parser{toks: lex(s)}
	if len(p.toks) == 0 {
		return nil, nil
	}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t, ok := p.peek(); ok {
		switch {
		case t.text == ")":
			return nil, p.errAt(t, "unbalanced parenthesis")
		case !isWordByte(t.text[0]) && t.text != "(" && t.text != "!":
			return nil, p.errAt(t, unsupportedMsg(t.text))
		case knownUnsupported[strings.ToLower(t.text)]:
			return nil, p.errAt(t, unsupportedMsg(t.text))
		}
		return nil, p.errAt(t, "expected \"and\" or \"or\"")
	}
	return n, nil
}

func (p *parser) peek() (token, bool) {
	if p.i >= len(p.toks) {
		return token{pos: -1}, false
	}
	return p.toks[p.i], true
}

func (p *parser) next() (token, bool) {
	t, ok := p.peek()
	if ok {
		p.i++
	}
	return t, ok
}

func (p *parser) errAt(t token, msg string) error {
	if t.pos < 0 {
		return &Error{Pos: len(p.toks), Msg: msg}
	}
	return &Error{Pos: t.pos, Token: t.text, Msg: msg}
}

func (p *parser) errEnd(msg string) error { return &Error{Pos: 0, Msg: msg} }

// expr := unary { ("and"|"&&"|"or"|"||") unary }, folded to the left.
func (p *parser) expr() (node, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.peek()
		if !ok {
			return left, nil
		}
		var isAnd bool
		switch strings.ToLower(t.text) {
		case "and", "&&":
			isAnd = true
		case "or", "||":
		default:
			return left, nil
		}
		p.i++
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		if isAnd {
			left = &andNode{left, right}
		} else {
			left = &orNode{left, right}
		}
	}
}

// unary := ("not"|"!") unary | "(" expr ")" | primitive
func (p *parser) unary() (node, error) {
	t, ok := p.peek()
	if !ok {
		return nil, p.errEnd("expected a primitive")
	}
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errAt(t, fmt.Sprintf("nesting deeper than %d", maxDepth))
	}
	switch strings.ToLower(t.text) {
	case "not", "!":
		p.i++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &notNode{x}, nil
	case "(":
		p.i++
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		c, ok := p.next()
		if !ok {
			return nil, p.errEnd("missing \")\"")
		}
		if c.text != ")" {
			return nil, p.errAt(c, "expected \")\"")
		}
		return x, nil
	}
	return p.primitive()
}

// primitive := [proto] [dir] [type] [id]
func (p *parser) primitive() (node, error) {
	var q qual
	start, _ := p.peek()
	if t, ok := p.peek(); ok && protoWords[strings.ToLower(t.text)] {
		q.proto = strings.ToLower(t.text)
		p.i++
	}
	if t, ok := p.peek(); ok && dirWords[strings.ToLower(t.text)] {
		q.dir = dirOf(strings.ToLower(t.text))
		p.i++
	}
	if t, ok := p.peek(); ok && typeWords[strings.ToLower(t.text)] {
		q.typ = strings.ToLower(t.text)
		p.i++
	}
	qualified := q.proto != "" || q.dir != dirAny || q.typ != ""
	id, ok := p.peek()
	hasID := ok && isID(id.text)
	if !hasID {
		if q.proto != "" && q.dir == dirAny && q.typ == "" {
			return &protoNode{q.proto}, nil
		}
		if !qualified {
			if !ok {
				return nil, p.errEnd("expected a primitive")
			}
			return nil, p.errAt(start, unsupportedMsg(start.text))
		}
		if !ok {
			return nil, p.errEnd("expected an address or port")
		}
		return nil, p.errAt(id, "expected an address or port, not this")
	}
	if knownUnsupported[strings.ToLower(id.text)] {
		return nil, p.errAt(id, unsupportedMsg(id.text))
	}
	if !qualified && p.last == nil {
		if _, err := netip.ParseAddr(id.text); err != nil {
			return nil, p.errAt(id, unsupportedMsg(id.text))
		}
	}
	p.i++
	switch {
	case !qualified && p.last != nil:
		q = *p.last
	case q.typ == "":
		if q.proto == "tcp" || q.proto == "udp" || q.proto == "sctp" {
			return nil, p.errAt(id, "expected \"port\" or \"portrange\" before")
		}
		q.typ = "host"
	}
	n, err := p.build(q, id)
	if err != nil {
		return nil, err
	}
	qq := q
	p.last = &qq
	return n, nil
}

func isID(s string) bool {
	if s == "" || !isWordByte(s[0]) {
		return false
	}
	lower := strings.ToLower(s)
	switch lower {
	case "and", "or", "not":
		return false
	}
	return !protoWords[lower] && !dirWords[lower] && !typeWords[lower]
}

func dirOf(w string) direction {
	if w == "src" {
		return dirSrc
	}
	return dirDst
}

// build checks the qualifier combination and parses the id for it.
func (p *parser) build(q qual, id token) (node, error) {
	switch q.typ {
	case "host":
		switch q.proto {
		case "", "ip", "ip6", "arp", "rarp":
		default:
			return nil, p.errAt(id, fmt.Sprintf("%q cannot qualify a host", q.proto))
		}
		a, err := netip.ParseAddr(id.text)
		if err != nil || a.Zone() != "" {
			return nil, p.errAt(id, "not an IP address (host names and MAC addresses are not supported)")
		}
		a = a.Unmap()
		if a.Is6() && q.proto != "" && q.proto != "ip6" || a.Is4() && q.proto == "ip6" {
			return nil, p.errAt(id, fmt.Sprintf("address family does not match %q", q.proto))
		}
		return &hostNode{proto: q.proto, dir: q.dir, addr: a}, nil
	case "net":
		switch q.proto {
		case "", "ip", "ip6":
		default:
			return nil, p.errAt(id, fmt.Sprintf("%q cannot qualify a net", q.proto))
		}
		pfx, err := parseNet(id.text)
		if err != nil {
			return nil, p.errAt(id, err.Error())
		}
		if pfx.Addr().Is6() && q.proto == "ip" || pfx.Addr().Is4() && q.proto == "ip6" {
			return nil, p.errAt(id, fmt.Sprintf("address family does not match %q", q.proto))
		}
		return &netNode{proto: q.proto, dir: q.dir, prefix: pfx}, nil
	default: // port, portrange
		switch q.proto {
		case "", "tcp", "udp", "sctp":
		default:
			return nil, p.errAt(id, fmt.Sprintf("%q cannot qualify a port", q.proto))
		}
		lo, hi, err := parsePorts(id.text, q.typ == "portrange")
		if err != nil {
			return nil, p.errAt(id, err.Error())
		}
		return &portNode{proto: q.proto, dir: q.dir, lo: lo, hi: hi}, nil
	}
}

// parseNet accepts CIDR prefixes, full addresses (a host-sized prefix) and
// tcpdump's abbreviated IPv4 networks ("10", "192.168", "10.1.2"), with or
// without a prefix length. Host bits must be zero, as in tcpdump.
func parseNet(s string) (netip.Prefix, error) {
	addrPart, bitsPart, hasBits := strings.Cut(s, "/")
	var addr netip.Addr
	bits := -1
	if a, err := netip.ParseAddr(addrPart); err == nil && a.Zone() == "" {
		addr = a.Unmap()
		bits = addr.BitLen()
	} else {
		octets := strings.Split(addrPart, ".")
		if len(octets) > 3 {
			return netip.Prefix{}, fmt.Errorf("not a network address")
		}
		var b [4]byte
		for i, o := range octets {
			v, err := strconv.ParseUint(o, 10, 8)
			if err != nil || o == "" || len(o) > 3 {
				return netip.Prefix{}, fmt.Errorf("not a network address")
			}
			b[i] = byte(v)
		}
		addr = netip.AddrFrom4(b)
		bits = 8 * len(octets)
	}
	if hasBits {
		v, err := strconv.Atoi(bitsPart)
		if err != nil || v < 0 || v > addr.BitLen() || bitsPart == "" || len(bitsPart) > 3 {
			return netip.Prefix{}, fmt.Errorf("invalid prefix length")
		}
		bits = v
	}
	pfx := netip.PrefixFrom(addr, bits)
	if pfx.Masked() != pfx {
		return netip.Prefix{}, fmt.Errorf("non-network bits set (did you mean %s?)", pfx.Masked())
	}
	return pfx, nil
}

// portNames are the service names tcpdump users type most; the agent has no
// /etc/services to consult, so the table is fixed.
var portNames = map[string]uint16{
	"ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "http": 80,
	"pop3": 110, "ntp": 123, "imap": 143, "snmp": 161, "ldap": 389, "https": 443,
	"imaps": 993, "pop3s": 995, "mysql": 3306, "postgresql": 5432,
}

func parsePort(s string) (uint16, error) {
	if v, ok := portNames[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("not a port number")
	}
	return uint16(v), nil
}

func parsePorts(s string, isRange bool) (uint16, uint16, error) {
	if !isRange {
		v, err := parsePort(s)
		return v, v, err
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("expected a port range like 8000-8080")
	}
	lo, err := parsePort(a)
	if err != nil {
		return 0, 0, err
	}
	hi, err := parsePort(b)
	if err != nil {
		return 0, 0, err
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return lo, hi, nil
}

// knownUnsupported lists tcpdump words outside the subset, so the error can
// say "not supported" rather than "unknown".
var knownUnsupported = map[string]bool{
	"vlan": true, "mpls": true, "ether": true, "gateway": true, "broadcast": true,
	"multicast": true, "less": true, "greater": true, "len": true, "proto": true,
	"pppoes": true, "pppoed": true, "geneve": true, "vxlan": true, "inbound": true,
	"outbound": true, "ifname": true, "on": true, "wlan": true, "llc": true,
	"decnet": true, "iso": true, "stp": true, "ipx": true, "atalk": true,
	"igmp": true, "pim": true, "vrrp": true, "ah": true, "esp": true, "protochain": true,
	"mask": true, "icmptype": true, "tcpflags": true,
}

func unsupportedMsg(word string) string {
	lw := strings.ToLower(word)
	switch {
	case knownUnsupported[lw]:
		return "unsupported token (supported: host, net, port, portrange, src, dst, ip, ip6, arp, rarp, tcp, udp, sctp, icmp, icmp6, and, or, not, parentheses)"
	case len(word) == 1 && !isWordByte(word[0]):
		return "unsupported token (byte offsets, comparisons and arithmetic are not supported)"
	default:
		return "unsupported token (not a keyword, IP address or port of the supported subset)"
	}
}
