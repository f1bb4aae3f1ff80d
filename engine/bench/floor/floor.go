// Package floor is the no-op ext_proc server: it answers every message at once with
// a CONTINUE of the matching type. On the same gRPC stack as the engine, it is the
// floor any ext_proc server is measured against.
package floor

import (
	"errors"
	"io"
	"net"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
)

// Processor is the no-op ext_proc service.
type Processor struct {
	extprocv3.UnimplementedExternalProcessorServer
}

// The answers are immutable and shared: building them per message would measure the
// allocator, not the floor.
var (
	continueHeaders = &extprocv3.HeadersResponse{Response: &extprocv3.CommonResponse{}}
	continueBody    = &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{}}
	continueTrailer = &extprocv3.TrailersResponse{}
)

// Process answers each message with CONTINUE until the client closes the stream.
func (Processor) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(Continue(req)); err != nil {
			return err
		}
	}
}

// Continue is the matching CONTINUE response for req.
func Continue(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
	resp := &extprocv3.ProcessingResponse{}
	switch req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		resp.Response = &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: continueHeaders}
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		resp.Response = &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: continueHeaders}
	case *extprocv3.ProcessingRequest_RequestBody:
		resp.Response = &extprocv3.ProcessingResponse_RequestBody{RequestBody: continueBody}
	case *extprocv3.ProcessingRequest_ResponseBody:
		resp.Response = &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: continueBody}
	case *extprocv3.ProcessingRequest_RequestTrailers:
		resp.Response = &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: continueTrailer}
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		resp.Response = &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: continueTrailer}
	}
	return resp
}

// Serve runs the no-op server on ln until it is stopped; the returned server can
// Stop it.
func Serve(ln net.Listener) *grpc.Server {
	gs := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(gs, Processor{})
	go func() { _ = gs.Serve(ln) }()
	return gs
}
