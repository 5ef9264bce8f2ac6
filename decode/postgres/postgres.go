// Package postgres decodes PostgreSQL frontend/backend protocol v3
// connections (issue 23) into exchanges of the shared HTTP-shaped model:
//
//   - The startup is one exchange, Method STARTUP, Target the database:
//     the StartupMessage's parameters (user, database, application_name,
//     ...) as Request headers, the authentication exchange (Auth-Request,
//     Auth), ParameterStatus values, Backend-Pid as Response headers; it
//     ends at ReadyForQuery or at the server's error (a wrong password:
//     ReplyError "FATAL: password authentication failed ...", ErrorCode
//     28P01). Password, SASLInitialResponse and SASLResponse contents go
//     only into the headers Password and Sasl-Password (and the server's
//     SCRAM messages into Sasl-Password-Server), which the masker hides;
//     never into a Body or Target.
//   - SSLRequest and GSSENCRequest are exchanges (SSLREQUEST,
//     GSSENCREQUEST) whose Response header Answer is the server's byte.
//     After 'S' the connection is TLS: it is handed to the TLS decoder
//     (Conn.Handoff("tls")), which decrypts it when keys were given; after
//     'G' (GSSAPI encryption) decoding stops with a note. A CancelRequest
//     is an exchange CANCEL with no answer (the server never sends one).
//   - Each statement is an exchange. Method is the statement's first
//     keyword upper case (SELECT, INSERT, BEGIN, ...), Target and Body its
//     text. A simple Query holding several statements is split at the
//     semicolons the server splits at (outside quotes, dollar quotes and
//     comments): one exchange per statement, each with the header
//     "Statement-Part: i/n", matched to the results in order; statements
//     after a failing one are published with the Error "not executed".
//   - Extended query: Parse, Bind and Describe messages join the Execute
//     that follows them into one exchange; Execute of a named prepared
//     statement has Method EXECUTE, Target the SQL text remembered from
//     its Parse, headers Statement and Portal, and the Body the SQL and
//     the bind parameters as the server's log writes them ("$1 = 'x'").
//     Parse, Describe or Close batches without Execute are exchanges
//     PREPARE, DESCRIBE or CLOSE.
//   - Replies: the Response Body is the column names and the rows in
//     COPY's text format (tab-separated, NULL as \N, escapes; binary
//     values as \x hex), capped by Limits.MaxBody; the header
//     Command-Tag holds the CommandComplete tag and Query.Rows its count
//     (-1 for tags without one). An ErrorResponse sets ReplyError
//     ("ERROR: message", the severity as the server words it) and
//     ErrorCode (SQLSTATE). Notices are Response headers "Notice" of the
//     exchange they came with. COPY FROM STDIN / TO STDOUT count their
//     CopyData messages and bytes (headers Copy-In, Copy-Out) and keep
//     the data as Body, capped.
//   - Notifications (LISTEN/NOTIFY), and notices or parameter changes
//     outside any request, are exchanges of their own: Method
//     NOTIFICATION / NOTICE / PARAMETERSTATUS, Target the channel or
//     subject, header "Pushed: true", the content as the Response. A
//     result no waiting request explains is an Orphan exchange.
//
// Detection is by content only: a startup packet (protocol 3.x), an
// SSLRequest, GSSENCRequest or CancelRequest, or on a connection joined
// mid-stream a chain of typed messages with plausible lengths. After a
// gap, a framing error or a mid-stream join each direction resumes at
// the next plausible message start (two messages in a row, or one whose
// shape is fixed); a join also learns which side is the client from the
// message types. Memory is bounded: each message keeps at most
// Limits.MaxBody bytes, bodies are capped, and the waiting queue and
// the prepared-statement names are bounded.
package postgres

import "github.com/tapview/tapview/decode"

// Name is the protocol name of flows and exchanges this package decodes.
const Name = "postgres"

// protoName is the Proto of messages.
const protoName = "PGv3"

// Parser is the PostgreSQL stream parser. It holds no state; every
// connection gets its own handler.
type Parser struct{}

// New returns the PostgreSQL parser for tcp.Config.Parsers.
func New() *Parser { return &Parser{} }

var _ decode.Parser = (*Parser)(nil)

// Name implements decode.Parser.
func (*Parser) Name() string { return Name }

// Detect implements decode.Parser; ports are not consulted.
func (*Parser) Detect(_ *decode.Flow, _ decode.Direction, first []byte) decode.Verdict {
	return detect(first)
}

// New implements decode.Parser.
func (*Parser) New(c decode.Conn) decode.StreamHandler { return newHandler(c) }
