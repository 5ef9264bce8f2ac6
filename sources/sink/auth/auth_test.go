package auth_test

import (
	"crypto/tls"
	"testing"

	"github.com/tapview/tapview/sources/sink/auth"
	"github.com/tapview/tapview/sources/sink/auth/authtest"
)

func TestTokenValid(t *testing.T) {
	tok := auth.Token("abc123")
	for h, want := range map[string]bool{
		"Bearer abc123":   true,
		"bearer abc123":   true,
		"BEARER  abc123 ": true,
		"Bearer abc12":    false,
		"Bearer abc1234":  false,
		"Basic abc123":    false,
		"abc123":          false,
		"":                false,
		"Bearer ":         false,
	} {
		if got := tok.Valid(h); got != want {
			t.Errorf("Valid(%q) = %v", h, got)
		}
	}
	if !auth.Token("").Valid("") {
		t.Error("an empty token must accept everything")
	}
}

func TestTLSConfigs(t *testing.T) {
	f := authtest.New(t)
	if c, err := auth.ServerTLS("", "", ""); c != nil || err != nil {
		t.Errorf("plaintext: %v %v", c, err)
	}
	for _, bad := range [][3]string{{"", "", f.CA}, {f.ServerCert, "", ""}, {f.ServerCert, f.ServerKey, f.ServerKey}, {f.ServerCert, f.ClientKey, ""}} {
		if _, err := auth.ServerTLS(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("ServerTLS%q accepted", bad)
		}
	}
	c, err := auth.ServerTLS(f.ServerCert, f.ServerKey, f.CA)
	if err != nil || c.ClientAuth != tls.RequireAndVerifyClientCert || c.MinVersion != tls.VersionTLS12 {
		t.Fatalf("mTLS config %+v %v", c, err)
	}
	if _, err := auth.ClientTLS(f.CA, f.ClientCert, "", ""); err == nil {
		t.Error("client cert without key accepted")
	}
	if c, err := auth.ClientTLS(f.CA, f.ClientCert, f.ClientKey, "sink.local"); err != nil || len(c.Certificates) != 1 || c.ServerName != "sink.local" {
		t.Errorf("client config %+v %v", c, err)
	}
}
