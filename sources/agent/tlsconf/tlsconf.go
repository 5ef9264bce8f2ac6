// Package tlsconf builds the TLS configurations of pcap-release style
// mutual TLS from PEM files, so the agent server and the agent/API clients
// take the same flags (--ca, --cert, --key, --server-name, --client-ca).
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// Client describes the client side of a TLS connection.
type Client struct {
	// CA is a PEM bundle of roots to verify the server; empty uses the
	// system roots.
	CA string
	// Cert and Key are a PEM client certificate and key for mutual TLS;
	// both or neither.
	Cert, Key string
	// ServerName overrides the name verified in the server certificate
	// (pcap-release agents use pcap-agent.service.cf.internal).
	ServerName string
	// Insecure skips server verification (-k).
	Insecure bool
}

// Config loads the files and returns a client configuration (TLS 1.2+).
func (c Client) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName, InsecureSkipVerify: c.Insecure} //nolint:gosec // -k is the user's explicit choice
	if c.CA != "" {
		pool, err := loadPool(c.CA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if (c.Cert == "") != (c.Key == "") {
		return nil, errors.New("tls: --cert and --key go together")
	}
	if c.Cert != "" {
		pair, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, fmt.Errorf("tls: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// Server describes the server side of a TLS listener.
type Server struct {
	// Cert and Key are the PEM server certificate and key.
	Cert, Key string
	// ClientCA, when set, requires clients to present a certificate
	// signed by one of these PEM roots (mutual TLS).
	ClientCA string
}

// Config loads the files and returns a server configuration (TLS 1.2+).
func (s Server) Config() (*tls.Config, error) {
	if s.Cert == "" || s.Key == "" {
		return nil, errors.New("tls: a server needs --cert and --key")
	}
	pair, err := tls.LoadX509KeyPair(s.Cert, s.Key)
	if err != nil {
		return nil, fmt.Errorf("tls: server certificate: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if s.ClientCA != "" {
		pool, err := loadPool(s.ClientCA)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

func loadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: %s holds no PEM certificate", path)
	}
	return pool, nil
}
