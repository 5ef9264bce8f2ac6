package main

import (
	"fmt"
	"io"

	"github.com/tapview/tapview/decode/tls/keylog"
)

// keylogNote tells the user what a --keylog file gave (issue 20): how
// many lines were used, per label, or, when none was, why, so a file that
// is not a key log (a PEM key, a HAR, a capture) is not taken silently.
// follow says the file is read again as it grows (sessions), where an
// empty file is normal at the start of a live capture.
func keylogNote(w io.Writer, path string, st keylog.Stats, follow bool) {
	switch {
	case st.Secrets > 0:
		fmt.Fprintf(w, "tapview: --keylog %s: %d of %d lines used (%s)", path, st.Secrets, st.Lines, st.Summary())
		if st.Bad > 0 {
			fmt.Fprintf(w, "; %d malformed lines skipped", st.Bad)
		}
		if st.Unsupported > 0 {
			fmt.Fprintf(w, "; %d lines with labels tapview does not use", st.Unsupported)
		}
		fmt.Fprintln(w)
	case st.Lines == 0 && follow:
		fmt.Fprintf(w, "tapview: --keylog %s is empty so far; it is read again as it grows "+
			"(the TLS client must run with SSLKEYLOGFILE=%s)\n", path, path)
	case st.Lines == 0:
		fmt.Fprintf(w, "tapview: warning: --keylog %s is empty, so no TLS connection can be decrypted; "+
			"give the file the TLS client wrote with SSLKEYLOGFILE set\n", path)
	default:
		fmt.Fprintf(w, "tapview: warning: --keylog %s has %d lines but no TLS key log line "+
			"(\"CLIENT_RANDOM <client random, 64 hex digits> <secret in hex>\", \"RSA ...\" or a TLS 1.3 "+
			"*_TRAFFIC_SECRET line): it is not an NSS key log, so no TLS connection can be decrypted; "+
			"give the file the TLS client wrote with SSLKEYLOGFILE set\n", path, st.Lines)
	}
}
