package capgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

// grpcServices are the service names health checks ask about; the last
// one is unknown to the server (NOT_FOUND).
var grpcServices = []string{"", "shop.v1.Orders", "shop.v1.Users", "shop.v1.Billing"}

// recordGRPC records conns grpc-go client connections to a server with
// the standard health and reflection services: unary health checks (some
// failing with NOT_FOUND) and reflection streams, two calls at a time.
func recordGRPC(ctx context.Context, conns int, seed uint64) ([]Unit, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("capgen: listen: %w", err)
	}
	gs := grpc.NewServer()
	hs := health.NewServer()
	for _, s := range grpcServices[1:3] {
		hs.SetServingStatus(s, healthpb.HealthCheckResponse_SERVING)
	}
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	go func() { _ = gs.Serve(l) }()
	defer gs.Stop()

	r := rand.New(rand.NewPCG(seed, 13))
	var units []Unit
	for i := 0; i < conns; i++ {
		tap := &tapDialer{}
		cc, err := grpc.NewClient("passthrough:///shop.internal:50051",
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return tap.dial(ctx, "tcp", l.Addr().String()) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithUserAgent("shop-worker/3.1"))
		if err != nil {
			return nil, fmt.Errorf("capgen: grpc client: %w", err)
		}
		calls := make([]int, 10+r.IntN(31))
		for j := range calls {
			calls[j] = r.IntN(10)
		}
		err = doConcurrently(len(calls), 2, func(j int) error { return grpcCall(ctx, cc, calls[j]) })
		if cerr := cc.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("capgen: grpc close: %w", cerr)
		}
		if err != nil {
			return nil, err
		}
		for _, lg := range tap.take() {
			units = append(units, newUnit("grpc", rebase(coalesce(lg.snapshot()))))
		}
	}
	return units, nil
}

// grpcCall makes one call: kind 0-6 a health check, 7-8 a reflection
// ListServices, 9 a reflection FileContainingSymbol (a larger answer).
func grpcCall(ctx context.Context, cc *grpc.ClientConn, kind int) error {
	if kind < 7 {
		svc := grpcServices[kind%len(grpcServices)]
		_, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil && status.Code(err) != codes.NotFound {
			return fmt.Errorf("capgen: health check %q: %w", svc, err)
		}
		return nil
	}
	st, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		return fmt.Errorf("capgen: reflection: %w", err)
	}
	req := &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"}}
	if kind == 9 {
		req = &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "grpc.health.v1.Health"}}
	}
	if err := st.Send(req); err != nil {
		return fmt.Errorf("capgen: reflection send: %w", err)
	}
	if _, err := st.Recv(); err != nil {
		return fmt.Errorf("capgen: reflection receive: %w", err)
	}
	if err := st.CloseSend(); err != nil {
		return fmt.Errorf("capgen: reflection close: %w", err)
	}
	if _, err := st.Recv(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("capgen: reflection end: %v", err)
	}
	return nil
}
