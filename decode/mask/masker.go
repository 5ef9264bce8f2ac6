// Package mask hides secrets in captured traffic before anyone sees it.
// One Masker serves every output: the UI, JSON lines, HAR and pcap
// export. Masking is on by default; a nil *Masker is masking turned off
// (--no-mask), and every method then returns its input unchanged.
//
// Rules come built in (BuiltinNames lists them): credential headers,
// secret-named query parameters, form fields and JSON keys (matched
// after undoing percent-encoding and JSON escapes, since a server would
// undo them too), and value patterns (bearer tokens, JWTs, AWS access
// key ids, Luhn-checked card numbers, e-mail addresses, credentials in
// URLs, vendor tokens with fixed prefixes, PEM private keys, password
// literals in SQL). A rules file adds rules or disables built-in ones by
// name (see LoadRules).
//
// Two renderings exist. Views get Display ("••••••••") in place of each
// secret, with structure kept: "Bearer ••••••••", cookie names, JSON
// keys and nesting. Raw payload bytes (pcap export) are overwritten in
// place with '*' so every length, offset and checksum-covered size holds.
package mask

import (
	"fmt"
	"sync"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// nameRule is a compiled header, param or field rule.
type nameRule struct {
	name  string
	match func(name []byte) bool
}

// Masker applies a fixed set of rules. It is immutable after New and safe
// for concurrent use.
type Masker struct {
	headers  []nameRule
	params   []nameRule // query, form and JSON keys
	fields   []nameRule // JSON keys only
	patterns []pattern
	names    []string
	// slow turns the prefilters off (every scanner runs on every
	// value), for the tests that prove they change nothing.
	slow    bool
	maxBody int64
	scratch sync.Pool // *scratch
}

// scratch is per-call working memory, pooled so that masking an exchange
// with nothing to hide allocates nothing.
type scratch struct {
	spans []span
	buf   []byte
	key   []byte // a name being decoded (secretName)
	field []byte // a multipart field name being joined (dispositionName)
	hname []byte // a header name being matched (secretHeaderName)
	// dec undoes content codings; kept with the scratch so a body does
	// not cost a fresh inflater (tens of kilobytes of tables) each time.
	dec    body.Decoder
	ext    BodyDecoder // the caller's decoder during ExchangeDecoding
	names  nameCache
	clean  cleanCache // header fields that needed no change (cleancache.go)
	bodies bodyMemo   // bodies that needed no change (bodymemo.go)
}

// nameCache is a small direct-mapped memo of name-rule answers: header
// names, parameter names and JSON keys, which repeat from message to
// message.
type nameCache struct {
	slots [256]nameSlot
}

type nameSlot struct {
	n      uint8 // name length; 0 = empty
	kind   nameKind
	secret bool
	name   [30]byte
}

// nameKind says which rules a cached answer is for.
type nameKind uint8

const (
	kindParamName  nameKind = iota // query, form and multipart names
	kindJSONKey                    // JSON keys (param and field rules)
	kindHeaderName                 // header names (header rules)
)

func paramKind(jsonKey bool) nameKind {
	if jsonKey {
		return kindJSONKey
	}
	return kindParamName
}

// cacheIndex picks a name's pair of slots from its length, kind and
// three of its bytes: cheaper than hashing every byte, and a slot holds
// the whole name, so a collision costs a miss, never a wrong answer.
func cacheIndex[T string | []byte](name T, kind nameKind) int {
	n := len(name)
	h := uint32(n) | uint32(kind)<<5 | uint32(name[0])<<8 | uint32(name[n/2])<<16 | uint32(name[n-1])<<24
	h ^= h >> 15
	h *= 0x2c1b3c6d
	h ^= h >> 12
	h *= 0x297a2d39
	return int(h>>24) &^ 1
}

func holds[T string | []byte](s *nameSlot, name T, kind nameKind) bool {
	return int(s.n) == len(name) && s.kind == kind && string(s.name[:s.n]) == string(name)
}

// lookupName returns the remembered answer for a name, if any. Each name
// can be in either slot of its pair (two-way associative).
func lookupName[T string | []byte](c *nameCache, name T, kind nameKind) (secret, ok bool) {
	if len(name) == 0 || len(name) > 30 {
		return false, false
	}
	i := cacheIndex(name, kind)
	if s := &c.slots[i]; holds(s, name, kind) {
		return s.secret, true
	}
	if s := &c.slots[i+1]; holds(s, name, kind) {
		return s.secret, true
	}
	return false, false
}

// storeName remembers an answer in the first slot of the name's pair,
// moving what was there to the second.
func storeName[T string | []byte](c *nameCache, name T, kind nameKind, secret bool) {
	if len(name) == 0 || len(name) > 30 {
		return
	}
	i := cacheIndex(name, kind)
	c.slots[i+1] = c.slots[i]
	s := &c.slots[i]
	s.n, s.kind, s.secret = uint8(len(name)), kind, secret
	copy(s.name[:], name)
}

func (c *nameCache) lookup(name []byte, jsonKey bool) (secret, ok bool) {
	return lookupName(c, name, paramKind(jsonKey))
}

func (c *nameCache) store(name []byte, jsonKey, secret bool) {
	storeName(c, name, paramKind(jsonKey), secret)
}

// Option configures New.
type Option func(*config)

type config struct {
	rules   Rules
	maxBody int64
}

// WithRules adds and disables rules (usually from LoadRules).
func WithRules(r Rules) Option { return func(c *config) { c.rules = r } }

// WithMaxBody caps how much of a content-encoded body is decoded to be
// masked (default decode.DefaultMaxDecoded). Past the cap the masked
// body is the decoded prefix, marked truncated.
func WithMaxBody(n int64) Option { return func(c *config) { c.maxBody = n } }

// New returns a Masker with the built-in rules plus the configured
// changes. It fails on rules LoadRules would reject, so rules built in
// code get the same checks as rules from a file.
func New(opts ...Option) (*Masker, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.maxBody <= 0 {
		c.maxBody = decode.DefaultMaxDecoded
	}
	disabled := make(map[string]bool)
	bs := builtins()
	known := make(map[string]bool)
	for _, b := range bs {
		known[b.Name] = true
	}
	for _, n := range c.rules.Disable {
		if !known[n] {
			return nil, fmt.Errorf("mask: cannot disable %q: no built-in rule has that name", n)
		}
		disabled[n] = true
	}
	m := &Masker{maxBody: c.maxBody}
	var shapes []*tokenShape
	for _, b := range bs {
		if disabled[b.Name] {
			continue
		}
		m.add(b.Kind, nameRule{b.Name, b.names}, pattern{find: b.find, needs: builtinNeeds[b.Name]})
		shapes = append(shapes, b.tokens...)
	}
	if len(shapes) > 0 {
		m.patterns = append(m.patterns, pattern{find: newTokenSet(shapes).find, needs: tokenNeeds(shapes)})
	}
	for _, r := range c.rules.Add {
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("mask: %w", err)
		}
		if known[r.Name] {
			return nil, fmt.Errorf("mask: rule name %q is already used", r.Name)
		}
		known[r.Name] = true
		nr, f, err := compile(r)
		if err != nil {
			return nil, fmt.Errorf("mask: %w", err)
		}
		nr.name = r.Name
		m.add(r.Kind, nr, f)
	}
	return m, nil
}

// compile turns a user rule into a matcher or finder. A literal
// pattern needs its own bytes; a regular expression always runs.
func compile(r Rule) (nameRule, pattern, error) {
	if r.Kind == KindPattern {
		if r.Match != "" {
			nd := need{all: classesOf(r.Match), minLen: len(r.Match)}
			for i := 0; i < len(r.Match); i++ {
				nd.minDigits += int(classes[r.Match[i]] & cDigit)
			}
			return nameRule{}, pattern{find: literalFinder(r.Match), needs: []need{nd}}, nil
		}
		re, err := compileRule(r)
		if err != nil {
			return nameRule{}, pattern{}, err
		}
		return nameRule{}, pattern{find: regexFinder(re)}, nil
	}
	nr := nameRule{name: r.Name}
	if r.Match != "" {
		want := r.Match
		nr.match = func(name []byte) bool { return equalFold(name, want) }
		return nr, pattern{}, nil
	}
	re, err := compileRule(r)
	if err != nil {
		return nameRule{}, pattern{}, err
	}
	nr.match = re.Match
	return nr, pattern{}, nil
}

func (m *Masker) add(k Kind, nr nameRule, p pattern) {
	m.names = append(m.names, nr.name)
	switch k {
	case KindHeader:
		m.headers = append(m.headers, nr)
	case KindParam:
		m.params = append(m.params, nr)
	case KindField:
		m.fields = append(m.fields, nr)
	case KindPattern:
		if p.find != nil { // token rules are searched by one tokenSet
			m.patterns = append(m.patterns, p)
		}
	}
}

// Default returns a Masker with the built-in rules only.
func Default() *Masker {
	m, err := New()
	if err != nil {
		panic("mask: built-in rules do not compile: " + err.Error())
	}
	return m
}

// Enabled reports whether m masks anything (false for nil, --no-mask),
// so views can say so on screen.
func (m *Masker) Enabled() bool { return m != nil }

// secretHeaderName is secretHeader with the answer remembered in sc:
// the same few header names come with every message.
func secretHeaderName[T string | []byte](m *Masker, sc *scratch, name T) bool {
	if secret, ok := lookupName(&sc.names, name, kindHeaderName); ok {
		return secret
	}
	sc.hname = append(sc.hname[:0], name...)
	secret := m.secretHeader(sc.hname)
	storeName(&sc.names, name, kindHeaderName, secret)
	return secret
}

// secretHeader reports whether a header name is covered by a header rule.
func (m *Masker) secretHeader(name []byte) bool {
	for _, r := range m.headers {
		if r.match(name) {
			return true
		}
	}
	return false
}

// secretParam reports whether a parameter name (or a JSON key when
// jsonKey is set) is covered by a param (or field) rule. Answers are
// remembered in sc, because bodies repeat the same few keys many times
// (an array of objects) and the rules are fixed for the Masker's life.
func (m *Masker) secretParam(sc *scratch, name []byte, jsonKey bool) bool {
	if secret, ok := sc.names.lookup(name, jsonKey); ok {
		return secret
	}
	secret := m.matchParam(name, jsonKey)
	sc.names.store(name, jsonKey, secret)
	return secret
}

func (m *Masker) matchParam(name []byte, jsonKey bool) bool {
	for _, r := range m.params {
		if r.match(name) {
			return true
		}
	}
	if jsonKey {
		for _, r := range m.fields {
			if r.match(name) {
				return true
			}
		}
	}
	return false
}

func (m *Masker) get() *scratch {
	if s, ok := m.scratch.Get().(*scratch); ok {
		return s
	}
	return &scratch{}
}

func (m *Masker) put(s *scratch) {
	if cap(s.buf) > 64<<10 {
		s.buf = nil // do not pin a large body's worth of memory
	}
	s.spans = s.spans[:0]
	m.scratch.Put(s)
}

// MaskInPlace overwrites every secret in b with '*' (a bare JSON number
// becomes "0" and spaces), keeping the length, so pcap export can
// rewrite a packet's payload without touching any length field. It
// returns how many secret values it overwrote. Secrets split across two
// buffers (two TCP segments) are found only when the caller passes the
// joined bytes.
func (m *Masker) MaskInPlace(b []byte) int {
	if m == nil || len(b) == 0 {
		return 0
	}
	s := m.get()
	defer m.put(s)
	s.spans = merge(m.scan(s, b, s.spans[:0]))
	fill(b, s.spans)
	return len(s.spans)
}

// Bytes returns b with its secrets overwritten as MaskInPlace does. b is
// not modified; when b holds no secret, b itself is returned.
func (m *Masker) Bytes(b []byte) []byte {
	if m == nil || len(b) == 0 {
		return b
	}
	s := m.get()
	defer m.put(s)
	s.spans = merge(m.scan(s, b, s.spans[:0]))
	if len(s.spans) == 0 {
		return b
	}
	out := append([]byte(nil), b...)
	fill(out, s.spans)
	return out
}

// Text returns s with its secrets replaced by Display, for free text a
// view shows (error strings, decoded payload previews). It returns s
// itself when nothing is secret.
func (m *Masker) Text(s string) string {
	if m == nil || s == "" {
		return s
	}
	if !m.mayScan(featuresFor(m, s)) {
		return s
	}
	sc := m.get()
	defer m.put(sc)
	sc.buf = append(sc.buf[:0], s...)
	sc.spans = merge(m.scan(sc, sc.buf, sc.spans[:0]))
	if len(sc.spans) == 0 {
		return s
	}
	return string(render(sc.buf, sc.spans))
}

// Header returns a header value as views show it: the credential part of
// secret headers replaced by Display ("Bearer ••••••••",
// "session=••••••••; theme=••••••••") and value patterns masked in any
// header. It returns value itself when nothing is secret.
func (m *Masker) Header(name, value string) string {
	if m == nil || value == "" {
		return value
	}
	sc := m.get()
	defer m.put(sc)
	v, changed := m.header(sc, name, value)
	if !changed {
		return value
	}
	return v
}

// header masks one header value using sc's memory. A value that is not
// a secret header's and that no value scanner can match (see
// prefilter.go) is returned as it is, without being copied.
func (m *Masker) header(sc *scratch, name, value string) (string, bool) {
	if m.slow || !cacheable(name, value) {
		return m.checkHeader(sc, name, value)
	}
	i := sc.clean.index(cleanHeader, name, value)
	if sc.clean.hit(i, cleanHeader, name, value) {
		return value, false
	}
	v, changed := m.checkHeader(sc, name, value)
	if !changed {
		sc.clean.remember(i, cleanHeader, name, value)
	}
	return v, changed
}

// checkHeader is header without the memo of clean fields.
func (m *Masker) checkHeader(sc *scratch, name, value string) (string, bool) {
	f := featuresFor(m, value)
	secret := secretHeaderName(m, sc, name)
	if !secret && !m.mayValue(f) {
		return value, false
	}
	sc.buf = append(sc.buf[:0], value...)
	vb := sc.buf
	spans := sc.spans[:0]
	if secret {
		spans = headerSpans(name, vb, 0, spans)
	}
	spans = m.scanValue(sc, vb, f, spans)
	sc.spans = merge(spans)
	if len(sc.spans) == 0 {
		return value, false
	}
	return string(render(vb, sc.spans)), true
}

// Rules lists the names of the rules in force, built-in ones first, for
// help and status output.
func (m *Masker) Rules() []string {
	if m == nil {
		return nil
	}
	return append([]string(nil), m.names...)
}
