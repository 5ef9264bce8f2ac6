// Package mysql decodes the MySQL / MariaDB classic client/server
// protocol into exchanges with Proto "mysql", the same model as HTTP:
//
//   - The login is one exchange, Method "CONNECT": the server greeting
//     (Server-Version, Connection-Id, Auth-Plugin, capabilities) and the
//     final OK or ERR are its response; the client's handshake response
//     its request (User, Database, Auth-Plugin). The auth-response bytes,
//     and every auth-switch or caching_sha2 full-auth packet the client
//     sends after them, are secrets: they appear hex-encoded only in
//     request headers named "Password" and "Auth-Password" (which the
//     masker hides), the body shows <password> in their place. An SSL
//     request hands the connection to decode/tls when it is available;
//     otherwise decoding stops with a note.
//   - Each command is one exchange. COM_QUERY: Method is the statement's
//     verb in upper case ("SELECT", "INSERT"), Target and request Body the
//     SQL. COM_STMT_PREPARE is "PREPARE" with the SQL; COM_STMT_EXECUTE is
//     "EXECUTE" with the SQL remembered by statement id as Target and the
//     bound parameters, decoded from the binary protocol, in the Body.
//     Other commands are named by Method ("USE" for COM_INIT_DB with the
//     schema as Target, "PING", "QUIT", "FIELD_LIST", "STMT_CLOSE", ...).
//   - Replies: an OK packet gives Affected-Rows, Last-Insert-Id, Warnings
//     and Info headers and Query.Rows = the affected rows; an ERR packet
//     gives Query.ErrorCode (the error number) and Query.ReplyError
//     ("#SQLSTATE message"); a result set (text or binary protocol) is
//     rendered tab-separated, a header line of column names then one line
//     per row, NULL as NULL, capped by Limits.MaxBody, and Query.Rows
//     counts every row. Multiple results (SERVER_MORE_RESULTS_EXISTS)
//     stay in one exchange, separated by a blank line. LOCAL INFILE
//     requests are noted in a Local-Infile header.
//   - When CLIENT_COMPRESS was negotiated the connection's CONNECT
//     response says "Compression: zlib" and the compressed framing is
//     undone (each compressed packet is inflated, up to Limits.MaxDecoded).
//
// Detection is by content: a greeting (sequence 0, protocol 10, a
// NUL-terminated version starting with a digit) or, on a connection
// joined mid-stream, a client command packet (SQL starting with a
// statement keyword, or one of the short fixed commands). After a gap
// every command awaiting a reply ends Partial, and decoding resumes at
// the next segment that starts with a command.
package mysql

import (
	"github.com/tapview/tapview/decode"
)

// Name is the protocol name of flows and exchanges this package decodes.
const Name = "mysql"

// Parser is the MySQL classic protocol. It holds no state; every
// connection gets its own handler.
type Parser struct{}

// New returns the parser, to be listed in tcp.Config.Parsers.
func New() *Parser { return &Parser{} }

var _ decode.Parser = (*Parser)(nil)

// Name implements decode.Parser.
func (*Parser) Name() string { return Name }

// Detect implements decode.Parser; see the package comment.
func (*Parser) Detect(_ *decode.Flow, _ decode.Direction, first []byte) decode.Verdict {
	return detect(first)
}

// New implements decode.Parser.
func (*Parser) New(c decode.Conn) decode.StreamHandler { return newHandler(c) }
