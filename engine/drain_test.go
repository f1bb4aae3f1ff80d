package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// echo answers every message with an empty request-headers response.
type echo struct {
	extprocv3.UnimplementedExternalProcessorServer
}

func (echo) Process(s extprocv3.ExternalProcessor_ProcessServer) error {
	for {
		if _, err := s.Recv(); err != nil {
			return nil
		}
		resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{}}}
		if err := s.Send(resp); err != nil {
			return err
		}
	}
}

// openStream starts a server and one stream on it that has exchanged a message.
func openStream(t *testing.T) (*grpc.Server, extprocv3.ExternalProcessor_ProcessClient) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(srv, echo{})
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); srv.Stop() })
	stream, err := extprocv3.NewExternalProcessorClient(conn).Process(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&extprocv3.ProcessingRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	return srv, stream
}

func TestDrainWaitsForInFlightStreams(t *testing.T) {
	srv, stream := openStream(t)
	done := make(chan struct{})
	go func() {
		drain(srv, 5*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("drain returned while a stream was open")
	case <-time.After(100 * time.Millisecond):
	}
	// The in-flight stream can still talk, then ends.
	if err := stream.Send(&extprocv3.ProcessingRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("in-flight stream cut during drain: %v", err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("drain did not finish after the last stream ended")
	}
}

func TestDrainCutsStreamsAtTheDeadline(t *testing.T) {
	srv, _ := openStream(t)
	start := time.Now()
	drain(srv, 150*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if elapsed := time.Since(start); elapsed < 150*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("drain took %v with a 150ms deadline", elapsed)
	}
}
