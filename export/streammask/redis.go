package streammask

import (
	"bytes"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/redis"
)

// Redis command walking bounds.
const (
	// redisMaxLine bounds a type line or inline command (Redis itself
	// refuses longer inline commands).
	redisMaxLine = 64 << 10
	// redisKeepArg is how much of each argument is kept to recognise
	// commands and keywords (AUTH, HELLO … AUTH, CONFIG SET requirepass).
	redisKeepArg = 64
	// redisMaxArgs bounds the arguments of one command whose places are
	// remembered; a longer command's later arguments are not checked for
	// passwords (no password-bearing command has that many).
	redisMaxArgs = 256
)

// redisArg is where one argument of a command sits in the stream.
type redisArg struct {
	off, n int64
	head   []byte
}

// redisCmds walks the command direction of a Redis connection: RESP
// arrays of bulk strings and inline commands. The arguments that
// redis.SecretArgs names (AUTH and HELLO passwords, CONFIG SET
// requirepass, …) are overwritten with '*' wherever the stream carries
// them; everything is also scanned raw with the masker's patterns. A gap
// or a framing error leaves the rest to the raw scan alone.
type redisCmds struct {
	sd   *side
	raw  raw
	lost bool
	line []byte
	// lineAt is the stream offset of line[0].
	lineAt int64
	left   int   // arguments of the current array still to come
	bulk   int64 // content bytes of the current bulk still to come
	crlf   int
	args   []redisArg
	cur    *redisArg // the argument being read, nil past redisMaxArgs
}

func newRedisCmds(sd *side) *redisCmds { return &redisCmds{sd: sd, raw: raw{sd: sd}} }

func (r *redisCmds) data(off int64, b []byte) {
	r.raw.data(off, b)
	for len(b) > 0 && !r.lost {
		n := r.step(off, b)
		off += int64(n)
		b = b[n:]
	}
}

// step consumes a prefix of b (at stream offset off) and returns its
// length.
func (r *redisCmds) step(off int64, b []byte) int {
	if r.bulk > 0 || r.crlf > 0 {
		n := int(min(r.bulk, int64(len(b))))
		if a := r.cur; a != nil {
			if room := redisKeepArg - len(a.head); room > 0 {
				a.head = append(a.head, b[:min(n, room)]...)
			}
		}
		r.bulk -= int64(n)
		for r.bulk == 0 && r.crlf > 0 && n < len(b) {
			r.crlf--
			n++
		}
		if r.bulk == 0 && r.crlf == 0 {
			r.left--
			if r.left == 0 {
				r.command()
			}
		}
		return n
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		if len(r.line) == 0 {
			r.lineAt = off
		}
		r.line = append(r.line, b...)
		if len(r.line) > redisMaxLine {
			r.lost = true
		}
		return len(b)
	}
	if len(r.line) == 0 {
		r.lineAt = off
	}
	r.line = append(r.line, b[:i+1]...)
	line := bytes.TrimRight(r.line, "\r\n")
	switch {
	case r.left > 0:
		// Inside an array: a bulk string header.
		if len(line) < 2 || line[0] != '$' {
			r.lost = true
			break
		}
		n, ok := atoi(line[1:])
		if !ok || n < 0 {
			r.lost = true
			break
		}
		r.cur = nil
		if len(r.args) < redisMaxArgs {
			r.args = append(r.args, redisArg{off: off + int64(i) + 1, n: n})
			r.cur = &r.args[len(r.args)-1]
		}
		r.bulk, r.crlf = n, 2
	case len(line) > 0 && line[0] == '*':
		n, ok := atoi(line[1:])
		switch {
		case !ok:
			r.lost = true
		case n > 0:
			r.left, r.args = int(min(n, 1<<30)), r.args[:0]
		}
	case len(line) > 0:
		r.inline(line)
	}
	r.line = r.line[:0]
	return i + 1
}

// command overwrites the secret arguments of a complete command.
func (r *redisCmds) command() {
	heads := make([][]byte, len(r.args))
	for i, a := range r.args {
		heads[i] = a.head
	}
	for _, i := range redis.SecretArgs(heads) {
		a := r.args[i]
		r.sd.emit(Patch{Off: a.off, Len: a.n, Kind: KindFill, Byte: '*'})
	}
	r.args = r.args[:0]
}

// inline overwrites the secret words of an inline command. Words are
// split at spaces; a command with quotes has everything after its
// first word overwritten when it names a secret, since quoting moves
// word boundaries.
func (r *redisCmds) inline(line []byte) {
	var heads [][]byte
	var at []int
	for i := 0; i < len(line); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if j > i {
			heads = append(heads, line[i:j])
			at = append(at, i)
		}
		i = j
	}
	secret := redis.SecretArgs(heads)
	if len(secret) == 0 {
		return
	}
	if bytes.ContainsAny(line, `"'`) {
		from := at[0] + len(heads[0])
		for from < len(line) && (line[from] == ' ' || line[from] == '\t') {
			from++
		}
		r.sd.emit(Patch{Off: r.lineAt + int64(from), Len: int64(len(line) - from), Kind: KindFill, Byte: '*'})
		return
	}
	for _, i := range secret {
		r.sd.emit(Patch{Off: r.lineAt + int64(at[i]), Len: int64(len(heads[i])), Kind: KindFill, Byte: '*'})
	}
}

func (r *redisCmds) gap() {
	r.raw.gap()
	r.lost = true
}

func (r *redisCmds) end() { r.raw.end() }

// atoi reads a non-negative or -1 decimal of at most 12 digits.
func atoi(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) > 12 {
		return 0, false
	}
	n, ok := digits(b)
	if !ok {
		return 0, false
	}
	if neg {
		return -n, n == 1
	}
	return n, true
}

// redisInlineProbe bounds how many first bytes detection holds while an
// inline command's first line is incomplete (a first line that long is
// left to the other protocols).
const redisInlineProbe = 4 << 10

// redisStart says whether a direction's first bytes are Redis commands:
// a RESP array whose first element is a bulk string ("*N\r\n$"), an
// inline AUTH or HELLO (which no HTTP method is), or any other inline
// command by redis.InlineStart's rule (a known command word, not an HTTP
// request line). It returns 1 (yes), -1 (no) or 0 (cannot tell yet).
// inlineOK is false when the peer spoke first: a Redis server never
// does, while text protocols whose clients send words Redis also knows
// (POP3, FTP) start with the server's greeting.
func redisStart(p []byte, inlineOK bool) int {
	if len(p) > 0 && p[0] == '*' {
		for i := 1; i < len(p); i++ {
			c := p[i]
			switch {
			case c >= '0' && c <= '9' && i < 12:
			case c == '\r' && i > 1:
				if i+2 < len(p) {
					if p[i+1] == '\n' && p[i+2] == '$' {
						return 1
					}
					return -1
				}
				return 0
			default:
				return -1
			}
		}
		return 0
	}
	for _, w := range []string{"AUTH ", "HELLO "} {
		n := min(len(p), len(w))
		if !bytes.EqualFold(p[:n], []byte(w[:n])) {
			continue
		}
		if n == len(w) {
			return 1
		}
		return 0
	}
	if !inlineOK {
		return -1
	}
	switch redis.InlineStart(p) {
	case decode.Yes:
		return 1
	case decode.NeedMore:
		return 0
	}
	return -1
}

// decideRedis is detection's hook: the layer for a direction whose first
// bytes are Redis commands (its peer, the replies, is scanned raw), or
// wait when the probe cannot tell yet. An inline command is waited for
// until its first line ends (up to redisInlineProbe bytes), so the
// decision does not depend on how the stream was cut into segments.
func decideRedis(sd *side, p []byte, final bool) (l layer, wait bool) {
	peer := sd.peer()
	inlineOK := peer == nil || peer.next == 0
	switch redisStart(p, inlineOK) {
	case 1:
		sd.c.client = sd.idx
		peer := sd.peerOrNew()
		peer.setIfUndecided(&raw{sd: peer})
		return newRedisCmds(sd), false
	case 0:
		limit := probeLen
		if len(p) > 0 && p[0] != '*' {
			limit = redisInlineProbe
		}
		return nil, !final && len(p) < limit
	}
	return nil, false
}
