package kernel

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/policy-engine-builder/policy-engine/pkg/metrics"
	"github.com/policy-engine-builder/policy-engine/worker/core"
)

// Server implements Envoy's ExternalProcessor service.
type Server struct {
	extprocv3.UnimplementedExternalProcessorServer

	Store    *core.ConfigStore
	Executor *core.Executor
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
}

// Process serves one stream: one HTTP request, every message answered in order
// with the response of the matching type.
func (s *Server) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	s.Metrics.StreamStarted()
	defer s.Metrics.StreamEnded()
	p := &processor{srv: s, ctx: stream.Context()}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if status.Code(err) == codes.Canceled || stream.Context().Err() != nil {
				return nil
			}
			return err
		}
		resp := s.safeHandle(p, req)
		if resp == nil {
			return status.Errorf(codes.InvalidArgument, "ext_proc message carries no request phase")
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// safeHandle turns a panic in the engine's own code into a 500 for this request:
// an immediate response is a valid answer to any Envoy message.
func (s *Server) safeHandle(p *processor, req *extprocv3.ProcessingRequest) (resp *extprocv3.ProcessingResponse) {
	defer func() {
		if r := recover(); r != nil {
			id := core.NewErrorID()
			s.Logger.Error("engine panic while processing a message", "error_id", id,
				"error", fmt.Sprint(r), "stack", string(debug.Stack()))
			if req.GetRequest() == nil {
				resp = nil
				return
			}
			resp = errorResponse(id)
		}
	}()
	return p.handle(req)
}
