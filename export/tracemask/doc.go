// Package tracemask masks Envoy tap traces and keeps them traces: it
// takes envoy.data.tap.v3.TraceWrappers (as the Envoy file sink, the tap
// sink or `-w x.pb_length_delimited` write them) and returns the same
// traces with what the masker (decode/mask, the rules every other
// output uses) finds overwritten, so a masked trace segment or export
// reads like the original in `tapview open` and in users' own tooling.
//
// What is masked, and how:
//
//   - Header and trailer values (value and raw_value), each checked as
//     the line "name: value" the way packet export checks an HTTP/2
//     header field, so header rules (Authorization keeps its scheme,
//     every cookie value goes), query parameters in :path and value
//     patterns apply. Secrets become '*' of the same length.
//   - Bodies (as_bytes and as_string) are checked whole: a streamed
//     trace's body chunks are joined first, so a value split across two
//     chunks is one value. Plain bodies (JSON, forms, text, binary) get
//     '*' in place. Content-encoded bodies (gzip, deflate, br, zstd) are
//     decoded, masked and encoded again with the same codings; gRPC
//     bodies are split into their length-prefixed messages and each one
//     is masked (decompressed and compressed again with grpc-encoding
//     when its flag says so, length prefix rewritten). A body that cannot
//     be decoded or encoded again (unknown coding, cut short by Envoy's
//     buffer limit, too large) is replaced with a note saying why, and
//     its content-encoding header is dropped so readers take the note as
//     text: what cannot be checked is not written. So is the rest of a
//     body that is not text when its headers were masked with an earlier
//     part of the trace (see below): its coding is unknown.
//   - Socket traces (buffered, and streamed segments joined per trace
//     id) carry raw connection bytes. They are replayed as one TCP
//     connection through export/streammask, the walker packet export
//     uses, so HTTP/1 heads and (chunked, compressed) bodies, HTTP/2
//     with HPACK, gRPC, WebSocket, Redis, PostgreSQL, MySQL and Kafka are
//     masked exactly as in a masked pcapng; TLS stays as it is
//     (ciphertext), and bytes no walker covers are scanned raw.
//
// Streamed segments are held by trace id until the trace is complete
// (response trailers for HTTP, the close event for sockets), until the
// held bytes exceed a bound (the oldest trace is then masked and
// released, and its later segments form a new unit), or until Flush
// (the end of an upload segment: a trace cut by a segment boundary is
// masked as two units, and a value split across them is found only if
// each half is).
// Output order within one trace is kept; a held trace is written when
// it is released, after buffered traces that came later.
//
// Unknown protobuf fields (fields this build of go-control-plane does
// not know, from a newer Envoy) are dropped deliberately: they cannot be
// checked for secrets. Addresses, timestamps, trace ids and truncation
// flags are kept as they were.
package tracemask
