// Package streammask finds what packet export must overwrite by walking
// each TCP connection the way its protocols deliver it, instead of one
// packet at a time: a secret split across segments, chunks, HTTP/2
// frames, gRPC's 16 KB frames or WebSocket fragments is one value to the
// masker here, and the change is mapped back to every byte of every
// packet that carried it.
//
// Pass one of an export feeds each captured frame to a Tracker (one per
// capture source). It puts each direction's byte stream back together
// from the sequence numbers (out of order and retransmitted segments
// are placed, lost ones become gaps) and walks it layer by layer:
//
//   - HTTP/1.x: each head (request line, header fields) is masked as a
//     whole (or found clean line by line, with a memo of clean lines,
//     when no line holds what a rule may read across lines: headmask.go);
//     bodies are one unit per message with chunked framing
//     removed (a value split by a chunk-size line is patched on both
//     sides of it); trailers like heads. A 101 response hands both
//     directions to WebSocket or HTTP/2 (h2c), a 2xx to CONNECT back to
//     detection.
//   - HTTP/2: header blocks are put together across HEADERS or
//     PUSH_PROMISE and CONTINUATION frames and decoded with the
//     direction's HPACK table; a secret in a raw literal is overwritten
//     with '*', one in a Huffman-coded literal with filler of exactly the
//     same coded length (mostly '*'), so the block still decodes, to as
//     many or fewer bytes, and every later table index resolves as it
//     did. DATA payloads are one unit per stream; gRPC messages inside
//     them are split by their length prefix.
//   - WebSocket: client frames are unmasked with their key before the
//     masker sees them, and patched with the key applied again so the
//     unmasked result reads '*'; a message is one unit across its
//     fragments.
//   - TLS (and a CONNECT tunnel carrying it) is left alone: ciphertext.
//   - Anything else, and what follows a gap, is scanned raw.
//
// Units are scanned in windows (scanWindow bytes, overlapping by
// scanOverlap) so memory stays bounded however long a body is.
// Compressed units (content-encoded bodies, compressed gRPC messages,
// permessage-deflate messages, with the direction's window when
// contexts are taken over) are decompressed and checked; one that holds
// a secret, cannot be decompressed or is too large to check is
// overwritten whole, with DEFLATE that decompresses to as many '*' where
// the coding is gzip, deflate or permessage-deflate (so Wireshark still
// shows it, and a taken-over window stays in step), else with '*'. A
// header block that cannot be decoded is overwritten from where it
// stops making sense. Every such unit carries a note that the export
// puts in the comment of the first packet it changes.
//
// What a Tracker finds is a Result: per direction of each connection an
// Instance holding patches at stream offsets (sorted, disjoint, bounded:
// past maxPatches the rest of the stream is overwritten) and the gaps it
// could not walk. Pass two looks each packet up by its addresses and
// ordinal and calls Instance.Apply, which overwrites what the patches
// cover of its payload and says whether the payload was walked whole
// (so the per-packet scan can be skipped).
package streammask
