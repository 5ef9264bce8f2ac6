package streammask

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"strings"
	"testing"
)

// myZRaw frames plain bytes as a compressed-protocol packet sent
// uncompressed (uncompressed length 0), as clients do below 50 bytes.
func myZRaw(seq byte, plain string) string {
	n := len(plain)
	return string([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq, 0, 0, 0}) + plain
}

// myZPackets splits a direction of the compressed protocol into its
// packets' plain contents (inflated where compressed).
func myZPackets(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	for len(b) >= 7 {
		n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
		u := int(b[4]) | int(b[5])<<8 | int(b[6])<<16
		if 7+n > len(b) {
			t.Fatalf("compressed packet of %d bytes, %d left", n, len(b)-7)
		}
		p := b[7 : 7+n]
		if u > 0 {
			r, err := zlib.NewReader(bytes.NewReader(p))
			if err != nil {
				t.Fatalf("packet %d: not zlib: %v", len(out), err)
			}
			if p, err = io.ReadAll(r); err != nil || len(p) != u {
				t.Fatalf("packet %d: inflates to %d bytes (%v), header says %d", len(out), len(p), err, u)
			}
		}
		out = append(out, string(p))
		b = b[7+n:]
	}
	return out
}

// TestMySQLCompressedChangeUser: on a compressed connection a
// COM_CHANGE_USER (compressed, as libmariadb sends it: see the
// recording's change-user connection) and the auth-switch responses
// after it (sent uncompressed) have their auth data overwritten at any
// segment size; the compressed packet is replaced by zlib of the same
// length that inflates to the same bytes up to the auth data and '*'
// from there. Also a COM_CHANGE_USER cut across two compressed packets
// and one sent uncompressed. Commands around them are kept.
func TestMySQLCompressedChangeUser(t *testing.T) {
	const auth, sig = "ChgAuth0123456789xyz", "Ed25519SignatureBytesEd25519SignatureBytesEd25519SignatureBytes!"
	attrs := "\x6c\x03_os\x05Linux\x0c_client_name\x0alibmariadb" + strings.Repeat("\x04_pid\x0512345", 6)
	change := myPkt(0, "\x11ed\x00\x14"+auth+"shop\x00\x2d\x00mysql_native_password\x00"+attrs)
	login := []byte(myLogin())
	login[4] |= 0x20 // CLIENT_COMPRESS
	query := myPkt(0, "\x03SELECT CURRENT_USER()")
	cases := map[string]struct {
		client    string
		keep      []string
		changeIdx int // the compressed packet that holds the command
	}{
		"compressed": {myZRaw(0, query) + myZ(0, change) + myZRaw(2, myPkt(2, sig)) + myZRaw(0, query), []string{"\x03SELECT CURRENT_USER()"}, 1},
		"cut":        {myZRaw(0, query) + myZ(0, change[:9]) + myZ(1, change[9:]) + myZRaw(2, myPkt(2, sig)) + myZRaw(0, query), nil, -1},
		"plain":      {myZRaw(0, query) + myZRaw(0, change) + myZRaw(2, myPkt(2, sig)) + myZRaw(0, query), []string{"\x11ed\x00\x14", "shop\x00\x2d\x00mysql_native_password\x00"}, -1},
	}
	for name, c := range cases {
		client := string(login) + c.client
		server := myGreeting() + myPkt(2, "\x00\x00\x00\x02\x00\x00\x00")
		for _, mss := range []int{1, 3, 7, 50, 1460} {
			h := newHarness(t)
			h.open()
			h.send(1, []byte(server), mss)
			h.send(0, []byte(client), mss)
			h.close()
			st, _ := h.masked()
			what := fmt.Sprintf("%s, mss %d", name, mss)
			if len(st[0]) != len(client) {
				t.Fatalf("%s: client stream length %d, want %d", what, len(st[0]), len(client))
			}
			pk := myZPackets(t, st[0][len(login):])
			all := strings.Join(pk, "")
			mustHide(t, what, []byte(all), auth, sig)
			mustKeep(t, what, []byte(all), c.keep...)
			if !strings.HasPrefix(all, query) || !strings.HasSuffix(all, myPkt(2, strings.Repeat("*", len(sig)))+query) {
				t.Errorf("%s: the queries or the auth-switch response's framing changed:\n%q", what, all)
			}
			if i := c.changeIdx; i >= 0 {
				want := change[:9] + strings.Repeat("*", len(change)-9)
				if pk[i] != want {
					t.Errorf("%s: COM_CHANGE_USER inflates to %q, want %q", what, pk[i], want)
				}
			}
		}
	}
}
