package redis

import (
	"bytes"
	"strings"

	"github.com/tapview/tapview/decode"
)

// commands are the Redis 7 command names (and a few older ones) an inline
// command may start with. Only inline detection needs the list: RESP
// arrays are recognised by their framing.
var commands = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`ACL APPEND ASKING AUTH BGREWRITEAOF BGSAVE BITCOUNT BITFIELD
	BITFIELD_RO BITOP BITPOS BLMOVE BLMPOP BLPOP BRPOP BRPOPLPUSH BZMPOP BZPOPMAX BZPOPMIN
	CLIENT CLUSTER COMMAND CONFIG COPY DBSIZE DEBUG DECR DECRBY DEL DISCARD DUMP ECHO EVAL
	EVALSHA EVALSHA_RO EVAL_RO EXEC EXISTS EXPIRE EXPIREAT EXPIRETIME FAILOVER FCALL FCALL_RO
	FLUSHALL FLUSHDB FUNCTION GEOADD GEODIST GEOHASH GEOPOS GEORADIUS GEORADIUSBYMEMBER
	GEOSEARCH GEOSEARCHSTORE GET GETBIT GETDEL GETEX GETRANGE GETSET HDEL HELLO HEXISTS HGET
	HGETALL HINCRBY HINCRBYFLOAT HKEYS HLEN HMGET HMSET HRANDFIELD HSCAN HSET HSETNX HSTRLEN
	HVALS INCR INCRBY INCRBYFLOAT INFO KEYS LASTSAVE LATENCY LCS LINDEX LINSERT LLEN LMOVE
	LMPOP LOLWUT LPOP LPOS LPUSH LPUSHX LRANGE LREM LSET LTRIM MEMORY MGET MIGRATE MODULE
	MONITOR MOVE MSET MSETNX MULTI OBJECT PERSIST PEXPIRE PEXPIREAT PEXPIRETIME PFADD PFCOUNT
	PFDEBUG PFMERGE PFSELFTEST PING PSETEX PSUBSCRIBE PSYNC PTTL PUBLISH PUBSUB PUNSUBSCRIBE
	QUIT RANDOMKEY READONLY READWRITE RENAME RENAMENX REPLCONF REPLICAOF RESET RESTORE ROLE
	RPOP RPOPLPUSH RPUSH RPUSHX SADD SAVE SCAN SCARD SCRIPT SDIFF SDIFFSTORE SELECT SET SETBIT
	SETEX SETNX SETRANGE SHUTDOWN SINTER SINTERCARD SINTERSTORE SISMEMBER SLAVEOF SLOWLOG
	SMEMBERS SMISMEMBER SMOVE SORT SORT_RO SPOP SPUBLISH SRANDMEMBER SREM SSCAN SSUBSCRIBE
	STRLEN SUBSCRIBE SUBSTR SUNION SUNIONSTORE SUNSUBSCRIBE SWAPDB SYNC TIME TOUCH TTL TYPE
	UNLINK UNSUBSCRIBE UNWATCH WAIT WAITAOF WATCH XACK XADD XAUTOCLAIM XCLAIM XDEL XGROUP
	XINFO XLEN XPENDING XRANGE XREAD XREADGROUP XREVRANGE XSETID XTRIM ZADD ZCARD ZCOUNT
	ZDIFF ZDIFFSTORE ZINCRBY ZINTER ZINTERCARD ZINTERSTORE ZLEXCOUNT ZMPOP ZMSCORE ZPOPMAX
	ZPOPMIN ZRANDMEMBER ZRANGE ZRANGEBYLEX ZRANGEBYSCORE ZRANGESTORE ZRANK ZREM
	ZREMRANGEBYLEX ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREVRANGE ZREVRANGEBYLEX
	ZREVRANGEBYSCORE ZREVRANK ZSCAN ZSCORE ZUNION ZUNIONSTORE`) {
		m[c] = true
	}
	return m
}()

// knownCommand reports a Redis command name, any case.
func knownCommand(b []byte) bool {
	if len(b) == 0 || len(b) > 20 {
		return false
	}
	return commands[strings.ToUpper(string(b))]
}

// detect decides whether the first bytes of a direction are Redis:
// a RESP array whose first element is a bulk string naming a command (a
// client), an inline command starting with a known command word, or a
// reply that can only be RESP (a server, when the connection was joined
// late). It never takes HTTP, TLS or the HTTP/2 preface.
func detect(p []byte) decode.Verdict {
	if len(p) == 0 {
		return decode.NeedMore
	}
	switch p[0] {
	case '*':
		return detectArray(p)
	case '+', '-', ':', '$', '%', '~', '>', '_', '#', ',', '(':
		return detectReply(p)
	}
	return detectInline(p)
}

// number reads digits (with an optional leading '-') up to CRLF at p[i:].
// It returns the value, the index after the CRLF, and a verdict: Yes when
// complete, NeedMore when p ends first, No when something else follows.
func number(p []byte, i int) (int64, int, decode.Verdict) {
	start := i
	if i < len(p) && p[i] == '-' {
		i++
	}
	var n int64
	for ; i < len(p); i++ {
		c := p[i]
		if c >= '0' && c <= '9' {
			if i-start > 12 {
				return 0, 0, decode.No
			}
			n = n*10 + int64(c-'0')
			continue
		}
		if c != '\r' || i == start || p[start] == '-' && i == start+1 {
			return 0, 0, decode.No
		}
		if i+1 >= len(p) {
			return 0, 0, decode.NeedMore
		}
		if p[i+1] != '\n' {
			return 0, 0, decode.No
		}
		if p[start] == '-' {
			n = -n
		}
		return n, i + 2, decode.Yes
	}
	return 0, 0, decode.NeedMore
}

// detectArray accepts "*N\r\n$M\r\nNAME" where NAME is a command-like
// word (letters first, then letters, digits, '.', '_', '|', '-'), or an
// array reply whose first element has a RESP type.
func detectArray(p []byte) decode.Verdict {
	n, i, v := number(p, 1)
	if v != decode.Yes {
		return v
	}
	if n < 0 {
		return verdictIf(n == -1 && i == len(p))
	}
	if n == 0 || n > 1<<20 {
		return decode.No
	}
	if i >= len(p) {
		return decode.NeedMore
	}
	if p[i] != '$' {
		// An array reply of integers or nested arrays.
		switch p[i] {
		case '*', ':', '+', '-', '%', '~', '_', '#', ',':
			return detectReply(p[i:])
		}
		return decode.No
	}
	m, j, v := number(p, i+1)
	if v != decode.Yes {
		return v
	}
	if m < 1 || m > 1<<29 {
		return verdictIf(m == -1) // a null element of a reply
	}
	word := p[j:]
	if int64(len(word)) > m {
		word = word[:m]
	}
	for k, c := range word {
		letter := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
		if k == 0 && !letter {
			// A reply's first bulk may hold anything; it must at least be
			// framed right.
			return bulkFramed(p, j, m)
		}
		if !letter && !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '|' && c != '-' && c != ':' {
			return bulkFramed(p, j, m)
		}
	}
	if len(word) == 0 {
		return decode.NeedMore
	}
	return bulkFramed(p, j, m)
}

// bulkFramed checks that the m bytes at p[j:] are followed by CRLF, when
// the probe reaches that far.
func bulkFramed(p []byte, j int, m int64) decode.Verdict {
	end := int64(j) + m
	if end+2 > int64(len(p)) {
		if end >= int64(len(p)) {
			return decode.Yes // the framing holds as far as the probe goes
		}
		return verdictIf(p[end] == '\r')
	}
	return verdictIf(p[end] == '\r' && p[end+1] == '\n')
}

func verdictIf(ok bool) decode.Verdict {
	if ok {
		return decode.Yes
	}
	return decode.No
}

// errorWords start Redis error replies.
var errorWords = []string{"ERR", "WRONGTYPE", "NOAUTH", "WRONGPASS", "NOPERM", "MOVED", "ASK",
	"LOADING", "BUSY", "NOSCRIPT", "READONLY", "EXECABORT", "OOM", "MASTERDOWN", "CROSSSLOT",
	"TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "MISCONF", "UNKILLABLE", "NOTBUSY", "NOPROTO",
	"BUSYGROUP", "NOGROUP", "UNBLOCKED"}

// detectReply accepts only replies no other protocol starts with:
// single-word status replies, error replies with a Redis error word,
// integers, framed bulk strings and RESP3 scalars and aggregates.
func detectReply(p []byte) decode.Verdict {
	line := p
	if i := bytes.Index(p, []byte("\r\n")); i >= 0 {
		line = p[:i]
	} else if len(p) < 48 {
		return decode.NeedMore
	} else {
		return decode.No
	}
	if len(line) == 0 {
		return decode.No
	}
	body := line[1:]
	switch p[0] {
	case '+':
		for _, c := range body {
			if c < 'A' || c > 'Z' {
				return decode.No
			}
		}
		return verdictIf(len(body) > 0)
	case '-':
		for _, w := range errorWords {
			if bytes.HasPrefix(body, []byte(w+" ")) || string(body) == w {
				return decode.Yes
			}
		}
		return decode.No
	case ':', '(':
		_, ok := parseInteger(body)
		return verdictIf(ok)
	case '_':
		return verdictIf(len(body) == 0)
	case '#':
		return verdictIf(string(body) == "t" || string(body) == "f")
	case ',':
		return verdictIf(checkScalar(',', body) == nil)
	case '$':
		n, j, v := number(p, 1)
		if v != decode.Yes {
			return v
		}
		if n == -1 {
			return verdictIf(j == len(p))
		}
		if n < 0 {
			return decode.No
		}
		return bulkFramed(p, j, n)
	case '%', '~', '>':
		n, j, v := number(p, 1)
		if v != decode.Yes {
			return v
		}
		if n < 0 {
			return decode.No
		}
		if j >= len(p) {
			return verdictIf(n == 0)
		}
		switch p[j] {
		case '$', ':', '*', '%', '~', '+', '-', '_', '#', ',', '(', '=':
			return decode.Yes
		}
	}
	return decode.No
}

// isInline reports first bytes that can only be an inline command (not
// RESP framing).
func isInline(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	switch p[0] {
	case '*', '+', '-', ':', '$', '%', '~', '>', '_', '#', ',', '(':
		return false
	}
	return true
}

// InlineStart says whether a direction's first bytes begin an inline
// command: Yes for a complete first line whose first word is a known
// command and which is not an HTTP request line, NeedMore while that
// line is incomplete, No otherwise (RESP framing included). Packet export
// (export/streammask) frames inline commands with the same rule.
func InlineStart(p []byte) decode.Verdict {
	line := p
	if i := bytes.IndexByte(p, '\n'); i >= 0 {
		line = p[:i]
	}
	if !isInline(p) || bytes.Contains(line, []byte(" HTTP/")) || bytes.Contains(line, []byte(" RTSP/")) {
		return decode.No // HTTP's request line, before its end too
	}
	return detectInline(p)
}

// detectInline accepts a line whose first word is a known command and
// which is not an HTTP request line.
func detectInline(p []byte) decode.Verdict {
	end := bytes.IndexByte(p, '\n')
	line := p
	if end >= 0 {
		line = p[:end]
	}
	word := line
	if i := bytes.IndexAny(line, " \r"); i >= 0 {
		word = line[:i]
	} else if end < 0 {
		if len(word) > 20 {
			return decode.No
		}
		for _, c := range word {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_') {
				return decode.No
			}
		}
		return decode.NeedMore
	}
	if !knownCommand(word) {
		return decode.No
	}
	if end < 0 {
		return decode.NeedMore
	}
	if bytes.Contains(line, []byte(" HTTP/")) || bytes.Contains(line, []byte(" RTSP/")) {
		return decode.No
	}
	return decode.Yes
}
