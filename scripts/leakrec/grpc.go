package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
)

// gRPC: a JWT across the 16 KB DATA frames of one message.

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// pbString appends a protobuf length-delimited field.
func pbString(b []byte, field int, s string) []byte {
	b = binary.AppendUvarint(b, uint64(field<<3|2))
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func runGRPC() error {
	ln, err := listen(portGRPC)
	if err != nil {
		return err
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(func(_ any, st grpc.ServerStream) error {
		var in []byte
		if err := st.RecvMsg(&in); err != nil {
			return err
		}
		out := pbString(nil, 1, "stored")
		out = pbString(out, 2, "ghp_"+grpcGhp)
		return st.SendMsg(&out)
	}))
	go srv.Serve(ln)
	defer srv.Stop()

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", portGRPC),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+grpcAuth)

	// The JWT's signature straddles byte 16384 of the DATA payload: the
	// 5-byte message prefix, field 1 (padding), then field 2's tag and
	// length, then the token.
	const frame = 16384
	pad := frame - 5 - 3 - 3 - (len(grpcJWT) - 20)
	msg := pbString(nil, 1, strings.Repeat("p", pad))
	msg = pbString(msg, 2, grpcJWT)
	msg = pbString(msg, 3, strings.Repeat("q", 2000))
	var out []byte
	if err := conn.Invoke(ctx, "/leak.Vault/Store", &msg, &out); err != nil {
		return err
	}
	gz := pbString(nil, 1, "stripe")
	gz = pbString(gz, 2, "sk_live_"+grpcStripe)
	gz = pbString(gz, 3, strings.Repeat("filler ", 40))
	if err := conn.Invoke(ctx, "/leak.Vault/Store", &gz, &out, grpc.UseCompressor(grpcgzip.Name)); err != nil {
		return err
	}
	pause()
	return nil
}

// ---- WebSocket (gorilla) ----
