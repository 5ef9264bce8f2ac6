package keylog

import (
	"bytes"
	"testing"
)

// FuzzAddText parses arbitrary key log text: nothing panics, and every
// stored secret comes back from LinesFor as a line that parses to the
// same secret.
func FuzzAddText(f *testing.F) {
	f.Add([]byte("CLIENT_RANDOM " + string(bytes.Repeat([]byte("ab"), 32)) + " " + string(bytes.Repeat([]byte("cd"), 48)) + "\n# comment\n"))
	f.Add([]byte("SERVER_TRAFFIC_SECRET_0 " + string(bytes.Repeat([]byte("01"), 32)) + " " + string(bytes.Repeat([]byte("ef"), 32))))
	f.Add([]byte("RSA 00 11\n\n\r\nCLIENT_RANDOM x y z\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		k := New()
		k.AddText(text)
		st := k.Stats()
		if st.Secrets+st.Bad+st.Unsupported > st.Lines {
			t.Fatalf("stats %+v do not add up", st)
		}
		k2 := New()
		k.mu.RLock()
		var randoms [][32]byte
		for r := range k.entries {
			randoms = append(randoms, r)
		}
		k.mu.RUnlock()
		for _, r := range randoms {
			for _, l := range k.LinesFor(r[:]) {
				if !k2.AddLine([]byte(l)) {
					t.Fatalf("LinesFor gave a line that does not parse: %q", l)
				}
			}
			a, _ := k.Lookup(r[:])
			b, _ := k2.Lookup(r[:])
			if !bytes.Equal(a.MasterSecret, b.MasterSecret) || !bytes.Equal(a.ServerTraffic0, b.ServerTraffic0) {
				t.Fatal("round trip changed a secret")
			}
		}
	})
}
