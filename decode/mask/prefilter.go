package mask

import "math"

// Prefilters: most values a masker sees hold nothing secret ("gzip",
// "keep-alive", a date, an ETag), and each scanner looks for something
// specific that needs certain bytes to be there at all: a JWT needs "eyJ"
// and two dots, a card 13 digits, an e-mail address '@' (or "%40"), a
// parameter '=', a JSON member '"' and ':'. One pass over the value
// notes which of a few byte classes occur and how many digits; a scanner
// whose necessary bytes are missing is skipped, and a header value none
// of whose scanners can match is returned without being copied.
//
// The conditions are necessary, never sufficient: a skipped scanner is
// one that would have found nothing, so the result is the same as
// running every scanner (TestPrefilterSameResult and
// FuzzPrefilterSameResult compare the two on the corpus, the test
// tables and random input).

// Byte classes. cDigit must be bit 0: features counts digits by adding
// the bit.
const (
	cDigit   uint32 = 1 << iota // 0-9
	cEq                         // '='
	cColon                      // ':'
	cQuote                      // '"'
	cAt                         // '@'
	cPct                        // '%'
	cSlash                      // '/'
	cUnder                      // '_'
	cDash                       // '-'
	cDot                        // '.'
	cUpperA                     // 'A' (AWS key ids, "AIza")
	cUpperS                     // 'S' ("SG.")
	cUpperJ                     // 'J' ("eyJ")
	cUpperP                     // 'P' ("PRIVATE KEY")
	cLetterB                    // 'b' or 'B' ("bearer")
	cSQLWord                    // 'p', 'P', 'i' or 'I' ("password", "identified")
	cSQLLit                     // '\'' or '$' (SQL string literals)
)

// classes maps a byte to its class bits.
var classes = func() (t [256]uint32) {
	for c := '0'; c <= '9'; c++ {
		t[c] = cDigit
	}
	for c, k := range map[byte]uint32{
		'=': cEq, ':': cColon, '"': cQuote, '@': cAt, '%': cPct, '/': cSlash,
		'_': cUnder, '-': cDash, '.': cDot, 'A': cUpperA, 'S': cUpperS,
		'J': cUpperJ, 'P': cUpperP, 'b': cLetterB, 'B': cLetterB,
	} {
		t[c] = k
	}
	for _, c := range []byte("pPiI") {
		t[c] |= cSQLWord
	}
	t['\''], t['$'] = cSQLLit, cSQLLit
	return t
}()

// features summarises a value for the prefilters.
type features struct {
	set    uint32 // classes present
	digits int    // number of ASCII digits
	n      int    // length
}

func (f features) has(need uint32) bool { return f.set&need == need }

// everything is what the scanners see with the prefilters off: every
// condition holds.
var everything = features{set: ^uint32(0), digits: math.MaxInt, n: math.MaxInt}

// allClasses has every class bit.
const allClasses = cSQLLit<<1 - 1

// featuresOf makes one pass over b. Once every class and enough digits
// for a card were seen, every scanner will run anyway, so the pass stops
// there and says everything (long binary bodies get there within a few
// hundred bytes).
func featuresOf[T string | []byte](b T) features {
	var set0, set1 uint32
	d0, d1 := 0, 0
	for i := 0; i < len(b); {
		end := min(i+128, len(b))
		for ; i+1 < end; i += 2 {
			c0, c1 := classes[b[i]], classes[b[i+1]]
			set0 |= c0
			set1 |= c1
			d0 += int(c0 & cDigit)
			d1 += int(c1 & cDigit)
		}
		if i < end {
			c := classes[b[i]]
			set0 |= c
			d0 += int(c & cDigit)
			i++
		}
		if set0|set1 == allClasses && d0+d1 >= 19 && i < len(b) {
			return everything
		}
	}
	return features{set: set0 | set1, digits: d0 + d1, n: len(b)}
}

// need is one way a finder can match: all of the classes present, the
// value at least minLen bytes long with at least minDigits digits.
type need struct {
	all               uint32
	minLen, minDigits int
}

// pattern is a value finder with the conditions under which it can
// find anything: any one of needs. A nil needs means always run (rules
// from a file, whose regular expressions cannot be analysed).
type pattern struct {
	find  finder
	needs []need
}

// may reports whether p can find anything in a value with features f.
func (p *pattern) may(f features) bool {
	if p.needs == nil {
		return true
	}
	for _, nd := range p.needs {
		if f.set&nd.all == nd.all && f.n >= nd.minLen && f.digits >= nd.minDigits {
			return true
		}
	}
	return false
}

// classesOf returns the classes of every byte of s: what a value that
// contains s must have.
func classesOf(s string) uint32 {
	var set uint32
	for i := 0; i < len(s); i++ {
		set |= classes[s[i]]
	}
	return set
}

// builtinNeeds are the conditions of the built-in finders, keyed by rule
// name. Each follows from what the finder's code requires before it
// appends a span.
var builtinNeeds = map[string][]need{
	// "bearer" (either case of the b), a blank, 8 token characters.
	"pattern:bearer": {{all: cLetterB, minLen: len("bearer ") + 8}},
	// "eyJ" and at least 4 characters before each of two dots.
	"pattern:jwt": {{all: cUpperJ | cDot, minLen: 10}},
	// A four-letter prefix starting with 'A' and 16 more characters.
	"pattern:aws-key": {{all: cUpperA, minLen: 20}},
	// 13 to 19 digits.
	"pattern:card": {{minDigits: 13}},
	// '@', or "%40".
	"pattern:email": {{all: cAt}, {all: cPct}},
	// "//" (or "\/\/") before a userinfo that ends at '@', or the
	// percent-encoded form "%3A%2F%2F".
	"pattern:url-password": {{all: cSlash | cAt}, {all: cPct}},
	// "-----BEGIN ", "PRIVATE KEY" and "-----".
	"pattern:private-key": {{all: cUpperP | cDash, minLen: 27}},
	// "password" or "identified", a blank, '=' or '(', and a quote: the
	// shortest is an unterminated "password 'x" (it runs to the end).
	"pattern:sql-password": {{all: cSQLWord | cSQLLit, minLen: 11}, {all: cSQLWord | cQuote, minLen: 11}},
}

// tokenNeeds returns the conditions of a tokenSet: each prefix with the
// shortest body of its shape, without the ones another implies.
func tokenNeeds(shapes []*tokenShape) []need {
	var all []need
	for _, sh := range shapes {
		for _, p := range sh.prefixes {
			all = append(all, need{all: classesOf(p), minLen: len(p) + sh.min})
		}
	}
	var out []need
	for i, a := range all {
		redundant := false
		for j, b := range all {
			// b is weaker (implied by a) when it needs a subset of a's
			// classes and no more length; ties keep the first.
			if i != j && a.all&b.all == b.all && b.minLen <= a.minLen && (a != b || j < i) {
				redundant = true
				break
			}
		}
		if !redundant {
			out = append(out, a)
		}
	}
	return out
}

// Conditions of the structural scanners.
const (
	needHeaderLines = cColon          // "Name: value"
	needParams      = cEq             // name=value
	needJSON        = cQuote | cColon // "key": value
	needMultipart   = cColon | cDash  // "Content-Disposition:"
)
