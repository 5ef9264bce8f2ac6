package packets

import (
	"strconv"
	"strings"
)

// SectionComment says how a pcapng file was made, for its section
// header, so whoever opens it in Wireshark knows whether what they see is
// what was on the wire. app names the exporter ("tapview v1.2");
// synthesized counts exchanges whose packets were made up; keys says
// whether TLS keys are in the file.
func SectionComment(app string, plan *Plan, synthesized int, keys bool) string {
	parts := []string{"exported by " + app}
	st := plan.Stats()
	if plan.Masked() {
		parts = append(parts, "masked: secrets overwritten in payloads (same length, checksums recomputed)")
		if st.Streams > 0 {
			parts = append(parts, "found in the reassembled TCP streams (HTTP/1 with chunked bodies, HTTP/2 frames and HPACK, gRPC messages, WebSocket frames); TLS payloads are left encrypted and no keys are included")
		}
		if st.StreamWiped > 0 {
			parts = append(parts, strconv.Itoa(st.StreamWiped)+" units are overwritten whole (compressed bodies and messages that held a secret or could not be checked, header blocks that could not be decoded): the first packet of each says which in its comment; gzip, deflate and permessage-deflate ones still decompress, to '*'")
		}
		if st.WipedBodies > 0 {
			parts = append(parts, strconv.Itoa(st.WipedBodies)+" content-encoded bodies that held secrets are overwritten whole and no longer decompress")
		}
		if keys {
			parts = append(parts, "TLS keys included: payloads decrypted with them are NOT masked")
		}
	} else {
		parts = append(parts, "not masked")
	}
	if synthesized > 0 {
		parts = append(parts, strconv.Itoa(synthesized)+" exchanges without captured packets are synthesized as HTTP/1.1 over TCP (see their packet comments)")
	}
	return strings.Join(parts, "; ")
}
