package tls

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/tls/keylog"
)

// rfc8448Session returns the RFC 8448 1-RTT trace as events and a key log
// with its traffic secrets.
func rfc8448Session(t testing.TB) ([]event, []byte) {
	v := vectors(t, "rfc8448-1rtt.txt")
	ch := v["client_hello"]
	chRecord := append([]byte{22, 3, 1, byte(len(ch) >> 8), byte(len(ch))}, ch...)
	c2s, s2c := decode.ClientToServer, decode.ServerToClient
	events := []event{
		{c2s, chRecord},
		{s2c, v["server_hello"]},
		{s2c, v["server_flight"]},
		{c2s, v["client_finished"]},
		{s2c, v["server_ticket"]},
		{c2s, v["client_app"]},
		{s2c, v["server_app"]},
		{c2s, v["client_alert"]},
		{s2c, v["server_alert"]},
	}
	r := hexs(v["client_random"])
	kl := "CLIENT_HANDSHAKE_TRAFFIC_SECRET " + r + " " + hexs(v["client_handshake_secret"]) + "\n" +
		"SERVER_HANDSHAKE_TRAFFIC_SECRET " + r + " " + hexs(v["server_handshake_secret"]) + "\n" +
		"CLIENT_TRAFFIC_SECRET_0 " + r + " " + hexs(v["client_app_secret"]) + "\n" +
		"SERVER_TRAFFIC_SECRET_0 " + r + " " + hexs(v["server_app_secret"]) + "\n"
	return events, []byte(kl)
}

// TestRFC8448KeySchedule checks HKDF-Expand-Label against the trace's
// traffic keys.
func TestRFC8448KeySchedule(t *testing.T) {
	v := vectors(t, "rfc8448-1rtt.txt")
	s := suiteByID(0x1301)
	k, err := trafficKeys13(s, v["server_app_secret"])
	if err != nil || !bytes.Equal(k.key, v["server_app_key"]) || !bytes.Equal(k.iv, v["server_app_iv"]) {
		t.Errorf("server application key %x iv %x (%v)", k.key, k.iv, err)
	}
	k, err = trafficKeys13(s, v["client_handshake_secret"])
	if err != nil || !bytes.Equal(k.key, v["client_handshake_key"]) || !bytes.Equal(k.iv, v["client_handshake_iv"]) {
		t.Errorf("client handshake key %x iv %x (%v)", k.key, k.iv, err)
	}
}

// TestRFC8448Records decrypts the trace's records, whole and split into
// every chunk size from 1 byte, and finds the 50-byte application data
// (00 01 .. 31) in both directions.
func TestRFC8448Records(t *testing.T) {
	events, kl := rfc8448Session(t)
	want := make([]byte, 50)
	for i := range want {
		want[i] = byte(i)
	}
	for _, chunk := range []int{0, 1, 2, 3, 5, 7, 64, 100} {
		keys := keylog.New()
		keys.AddText(kl)
		var sk sink
		c := newFakeConn()
		p := New(keys, &sk)
		play(p.New(c), events, chunk)
		info := c.lastTLS()
		if info.Version != "TLS 1.3" || info.Cipher != "TLS_AES_128_GCM_SHA256" || info.SNI != "server" || !info.Decrypted {
			t.Errorf("chunk %d: TLS %+v", chunk, info)
		}
		if !bytes.Equal(sk.got[0], want) || !bytes.Equal(sk.got[1], want) {
			t.Errorf("chunk %d: plaintext c2s %x s2c %x", chunk, sk.got[0], sk.got[1])
		}
		if len(c.notes) != 0 || !sk.ended {
			t.Errorf("chunk %d: notes %q, ended %v", chunk, c.notes, sk.ended)
		}
		if st := p.Stats(); st.Records != 9-2 || st.Failures != 0 {
			// 7 protected records: flight, finished, ticket, 2 app, 2 alerts.
			t.Errorf("chunk %d: stats %+v", chunk, st)
		}
	}
}

// TestRFC8448Variants covers what a key log may lack or get wrong: only
// application secrets (the handshake records are skipped by trial), no
// secrets (missing keys: a state, not an error), and a wrong secret
// (a note, no plaintext).
func TestRFC8448Variants(t *testing.T) {
	events, kl := rfc8448Session(t)
	lines := bytes.Split(bytes.TrimSpace(kl), []byte("\n"))
	t.Run("application secrets only", func(t *testing.T) {
		keys := keylog.New()
		keys.AddText(bytes.Join(lines[2:], []byte("\n")))
		var sk sink
		c := newFakeConn()
		play(New(keys, &sk).New(c), events, 0)
		if len(sk.got[0]) != 50 || len(sk.got[1]) != 50 || !c.lastTLS().Decrypted || len(c.notes) != 0 {
			t.Errorf("got %d/%d bytes, TLS %+v, notes %q", len(sk.got[0]), len(sk.got[1]), c.lastTLS(), c.notes)
		}
	})
	t.Run("no keys", func(t *testing.T) {
		var sk sink
		c := newFakeConn()
		p := New(keylog.New(), &sk)
		play(p.New(c), events, 0)
		if c.lastTLS().Decrypted || len(sk.got[0])+len(sk.got[1]) != 0 || len(c.notes) != 0 {
			t.Errorf("TLS %+v, plaintext %d bytes, notes %q", c.lastTLS(), len(sk.got[0])+len(sk.got[1]), c.notes)
		}
		if st := p.Stats(); st.MissingKeys != 1 {
			t.Errorf("stats %+v, want 1 connection missing keys", st)
		}
	})
	t.Run("wrong server secret", func(t *testing.T) {
		bad := bytes.Clone(kl)
		i := bytes.Index(bad, []byte("SERVER_TRAFFIC_SECRET_0"))
		bad[len(bad)-2] ^= 1 // last hex digit of the server application secret
		if i < 0 {
			t.Fatal("no server secret")
		}
		keys := keylog.New()
		keys.AddText(bad)
		var sk sink
		c := newFakeConn()
		play(New(keys, &sk).New(c), events, 0)
		if len(sk.got[0]) != 50 || len(sk.got[1]) != 0 || len(c.notes) != 1 || !strings.Contains(c.notes[0], "s2c") {
			t.Errorf("got %d/%d bytes, notes %q", len(sk.got[0]), len(sk.got[1]), c.notes)
		}
	})
}
