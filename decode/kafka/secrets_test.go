package kafka

import (
	"bytes"
	"testing"
)

func TestFindClientSecret(t *testing.T) {
	pw := []byte("\x00alice\x00hunter2-pw")
	for _, ver := range []int16{0, 1, 2} {
		var body []byte
		if flexible(keySaslAuthenticate, ver) {
			body = append([]byte{byte(len(pw) + 1)}, pw...)
			body = append(body, 0)
		} else {
			body = cat(i32(int32(len(pw))), pw)
		}
		f := req(keySaslAuthenticate, ver, 5, "client-id", body)
		s := FindClientSecret(f, len(f))
		if s.N != len(pw) || !bytes.Equal(f[s.Off:s.Off+s.N], pw) {
			t.Errorf("v%d: secret at %d+%d, want the auth bytes", ver, s.Off, s.N)
		}
		if s := FindClientSecret(f[:12], len(f)); !s.More {
			t.Errorf("v%d: a short head does not ask for more", ver)
		}
	}
	if s := FindClientSecret(req(keySaslHandshake, 0, 1, "c", str("PLAIN")), 100); !s.RawNext || s.N != 0 {
		t.Errorf("handshake v0: %+v", s)
	}
	if s := FindClientSecret(req(keyMetadata, 1, 1, "c", cat(i32(-1))), 17); s.N != 0 || s.More || s.RawNext {
		t.Errorf("metadata: %+v", s)
	}
	// Auth bytes whose length runs past the frame: the rest is secret.
	f := req(keySaslAuthenticate, 1, 5, "c", cat(i32(1000), pw))
	if s := FindClientSecret(f, len(f)); s.N != len(f)-s.Off || s.Off != 4+10+1 {
		t.Errorf("bad length: %+v (frame %d)", s, len(f))
	}
}
