package tlsconf_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"

	"github.com/tapview/tapview/sources/agent/tlsconf"
	"github.com/tapview/tapview/sources/internal/tlstest"
)

func TestConfigs(t *testing.T) {
	pki := tlstest.New(t, "agent.test")
	c, err := tlsconf.Client{CA: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey, ServerName: "agent.test"}.Config()
	if err != nil || c.RootCAs == nil || len(c.Certificates) != 1 || c.ServerName != "agent.test" || c.MinVersion != tls.VersionTLS12 {
		t.Fatalf("client config %+v, %v", c, err)
	}
	s, err := tlsconf.Server{Cert: pki.ServerCert, Key: pki.ServerKey, ClientCA: pki.CA}.Config()
	if err != nil || s.ClientAuth != tls.RequireAndVerifyClientCert || s.ClientCAs == nil {
		t.Fatalf("server config %+v, %v", s, err)
	}
	s, err = tlsconf.Server{Cert: pki.ServerCert, Key: pki.ServerKey}.Config()
	if err != nil || s.ClientAuth != tls.NoClientCert {
		t.Fatalf("server without client CA: %+v, %v", s, err)
	}
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"cert without key":  errOf(tlsconf.Client{Cert: pki.ClientCert}.Config()),
		"missing CA file":   errOf(tlsconf.Client{CA: "/nonexistent/ca.pem"}.Config()),
		"CA not PEM":        errOf(tlsconf.Client{CA: notPEM}.Config()),
		"server no cert":    errOf(tlsconf.Server{}.Config()),
		"server bad key":    errOf(tlsconf.Server{Cert: pki.ServerCert, Key: pki.ClientKey}.Config()),
		"server CA not PEM": errOf(tlsconf.Server{Cert: pki.ServerCert, Key: pki.ServerKey, ClientCA: notPEM}.Config()),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func errOf(_ *tls.Config, err error) error { return err }
