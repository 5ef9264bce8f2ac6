// Package redis decodes Redis connections (RESP2 and RESP3, issue 23)
// into exchanges of the shared HTTP-shaped model, one per command:
//
//   - Request.Method is the command, upper case; Request.Target its first
//     argument (the key; for AUTH the user name, never the password).
//     Request.Body renders the command with its arguments quoted; Proto
//     is "RESP2" or "RESP3" (the protocol the connection speaks when the
//     command is sent; HELLO 3 switches it). Inline commands carry the
//     header "Inline: true". Passwords (see SecretArgs) appear only in
//     "Password" headers; the Body shows "<password>" in their place.
//   - Response.Body renders the reply as redis-cli prints it, RESP3 types
//     named; the header "Type" names the RESP type. BodySize on both
//     sides is the message's size on the wire.
//   - Exchange.Query: ReplyError is an error reply without its '-' and
//     ErrorCode its first word ("WRONGTYPE"); Rows the elements of an
//     aggregate reply (map: pairs), 1 for a string, 0 for a null, -1 for
//     other scalars; Database the DB index (SELECT, starting at "0" when
//     the connection's start was seen); User the user authenticated by
//     AUTH or HELLO; ClientID the name set by CLIENT SETNAME or HELLO
//     SETNAME.
//
// Replies are matched to commands in order, so pipelining needs nothing
// more. Inside MULTI each command is answered "+QUEUED" (its exchange
// carries "Transaction: queued") and EXEC's array holds the results.
// SUBSCRIBE and its relatives collect one confirmation per channel into
// one exchange. Messages the server pushes (pub/sub messages in RESP2
// subscribed mode, every RESP3 '>' push that is not a confirmation,
// MONITOR's event lines) are exchanges of their own: a Request with no
// bytes (BodySize 0) whose Method is the push kind upper case
// ("MESSAGE", "PMESSAGE", "INVALIDATE", "MONITOR") and Target the channel
// (for MONITOR the monitored command), with the header "Pushed: true",
// and the pushed value as the Response. A
// reply no command waits for is an Orphan exchange with no Request.
//
// Detection is by content only (see detect). After a gap, or when the
// connection was joined mid-stream, the command direction resumes at the
// next "*N\r\n$" at a line start and the reply direction at the next line
// that starts with a RESP type byte; commands in flight are published
// Partial. Memory is bounded: strings are kept up to Limits.MaxBody per
// message, at most maxKept values per message, nesting to maxDepth;
// streamed RESP3 aggregates ('?') are not decoded (a note says so).
package redis

import "github.com/tapview/tapview/decode"

// Name is the protocol name of flows and exchanges this package decodes.
const Name = "redis"

// Parser is the Redis stream parser. It holds no state; every
// connection gets its own handler.
type Parser struct{}

// New returns the Redis parser for tcp.Config.Parsers.
func New() *Parser { return &Parser{} }

var _ decode.Parser = (*Parser)(nil)

// Name implements decode.Parser.
func (*Parser) Name() string { return Name }

// Detect implements decode.Parser; ports are not consulted. An inline
// command is only taken when its peer has not spoken first: a Redis
// server never does, while text protocols whose clients send words Redis
// also knows (POP3 AUTH, FTP TYPE and QUIT) start with the server's
// greeting.
func (*Parser) Detect(f *decode.Flow, dir decode.Direction, first []byte) decode.Verdict {
	v := detect(first)
	if v != decode.No && f != nil && !f.Partial && isInline(first) {
		peer := f.BytesS2C
		if dir == decode.ServerToClient {
			peer = f.BytesC2S
		}
		if peer > 0 {
			return decode.No
		}
	}
	return v
}

// New implements decode.Parser.
func (*Parser) New(c decode.Conn) decode.StreamHandler { return newHandler(c) }
