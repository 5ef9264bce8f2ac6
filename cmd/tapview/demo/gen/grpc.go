package main

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

const petService = "petstore.v1.PetStore"

// newGRPCServer serves the standard health and reflection services, with
// the whole server and the petstore service SERVING.
func newGRPCServer() (*grpc.Server, *health.Server) {
	gs := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus(petService, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	return gs, hs
}

// callGRPC makes the calls a health prober and grpcurl would: Check of
// the server and of the service, Check of an unknown service (NOT_FOUND),
// a reflection ListServices, and a Watch that sees the service go
// NOT_SERVING and back before the client cancels it.
func callGRPC(ctx context.Context, cc *grpc.ClientConn, hs *health.Server) error {
	hc := healthpb.NewHealthClient(cc)
	for _, svc := range []string{"", petService} {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			return fmt.Errorf("health Check %q: %w", svc, err)
		}
		if resp.Status != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("health Check %q: %v", svc, resp.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "petstore.v1.Billing"})
	if status.Code(err) != codes.NotFound {
		return fmt.Errorf("health Check of an unknown service: got %v, want NotFound", err)
	}
	time.Sleep(10 * time.Millisecond)

	if err := listServices(ctx, cc); err != nil {
		return err
	}
	time.Sleep(10 * time.Millisecond)

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := hc.Watch(wctx, &healthpb.HealthCheckRequest{Service: petService})
	if err != nil {
		return fmt.Errorf("health Watch: %w", err)
	}
	want := []healthpb.HealthCheckResponse_ServingStatus{
		healthpb.HealthCheckResponse_SERVING,
		healthpb.HealthCheckResponse_NOT_SERVING,
		healthpb.HealthCheckResponse_SERVING,
	}
	for i, st := range want {
		resp, err := w.Recv()
		if err != nil {
			return fmt.Errorf("health Watch message %d: %w", i+1, err)
		}
		if resp.Status != st {
			return fmt.Errorf("health Watch message %d: %v, want %v", i+1, resp.Status, st)
		}
		if i+1 < len(want) {
			time.Sleep(40 * time.Millisecond)
			hs.SetServingStatus(petService, want[i+1])
		}
	}
	cancel()
	time.Sleep(20 * time.Millisecond) // let the RST_STREAM go out
	return nil
}

// listServices asks the reflection service what the server offers.
func listServices(ctx context.Context, cc *grpc.ClientConn) error {
	stream, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		return fmt.Errorf("reflection: %w", err)
	}
	req := &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: ""}}
	if err := stream.Send(req); err != nil {
		return fmt.Errorf("reflection send: %w", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("reflection receive: %w", err)
	}
	if len(resp.GetListServicesResponse().GetService()) == 0 {
		return fmt.Errorf("reflection lists no services")
	}
	if err := stream.CloseSend(); err != nil {
		return fmt.Errorf("reflection close: %w", err)
	}
	if _, err := stream.Recv(); err == nil {
		return fmt.Errorf("reflection: unexpected second response")
	}
	return nil
}
