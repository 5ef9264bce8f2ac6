// Package auth holds the transport security shared by tapview's servers
// (the tap sink, the watch service) and its watch client: TLS and mTLS
// configuration from PEM files, and a bearer token checked in constant
// time on gRPC and HTTP. Keeping it in one place means every listener
// refuses the same things the same way.
package auth

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ServerTLS loads a server certificate and key; with clientCA set, clients
// must present a certificate signed by it (mTLS). An empty certFile means
// plaintext and returns nil.
func ServerTLS(certFile, keyFile, clientCA string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		if clientCA != "" {
			return nil, errors.New("--client-ca needs --tls-cert and --tls-key")
		}
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS key pair: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA != "" {
		pool, err := loadPool(clientCA)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientTLS builds a client configuration: caFile verifies the server
// (system roots when empty), certFile and keyFile are presented for mTLS,
// serverName overrides the name checked in the certificate.
func ClientTLS(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if caFile != "" {
		pool, err := loadPool(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, errors.New("--cert and --key go together")
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load client key pair: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificates", file)
	}
	return pool, nil
}

// Token checks "Authorization: Bearer <token>". The zero value (empty
// token) accepts everything.
type Token string

// Valid reports whether an Authorization header value carries the token.
func (t Token) Valid(header string) bool {
	if t == "" {
		return true
	}
	const prefix = "bearer "
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return false
	}
	got := strings.TrimSpace(header[len(prefix):])
	return subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1
}

func (t Token) checkContext(ctx context.Context) error {
	if t == "" {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if t.Valid(v) {
			return nil
		}
	}
	return status.Error(codes.Unauthenticated, "missing or wrong bearer token (Authorization: Bearer ...)")
}

// ServerOptions returns gRPC server options enforcing the token on every
// unary and streaming call; onReject (may be nil) counts refusals.
func (t Token) ServerOptions(onReject func()) []grpc.ServerOption {
	if t == "" {
		return nil
	}
	check := func(ctx context.Context) error {
		err := t.checkContext(ctx)
		if err != nil && onReject != nil {
			onReject()
		}
		return err
	}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := check(ctx); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := check(ss.Context()); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	}
}

// Handler wraps h, answering 401 to requests without the token; onReject
// (may be nil) counts refusals.
func (t Token) Handler(h http.Handler, onReject func()) http.Handler {
	if t == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !t.Valid(r.Header.Get("Authorization")) {
			if onReject != nil {
				onReject()
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="tapview"`)
			http.Error(w, "missing or wrong bearer token (Authorization: Bearer ...)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Credentials returns per-RPC credentials sending the token. They refuse
// plaintext connections unless insecure is set, so a token is not sent
// in the clear by accident.
func (t Token) Credentials(insecure bool) grpc.DialOption {
	return grpc.WithPerRPCCredentials(bearer{token: string(t), insecure: insecure})
}

type bearer struct {
	token    string
	insecure bool
}

// GetRequestMetadata adds the Authorization header to every call.
func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

// RequireTransportSecurity keeps the token off plaintext connections
// unless they were explicitly allowed.
func (b bearer) RequireTransportSecurity() bool { return !b.insecure }
