package devproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// failure is a request the proxy answers itself, with the status Envoy would use.
type failure struct {
	status int
	reason string
}

func (f *failure) Error() string { return fmt.Sprintf("%d: %s", f.status, f.reason) }

// session is the ext_proc side of one HTTP request: one stream, opened lazily on the
// first message, with the processing mode as currently negotiated.
type session struct {
	cfg    *Config
	client extprocv3.ExternalProcessorClient
	log    *slog.Logger

	ctx    context.Context // the stream's, cancelled when processing ends
	cancel context.CancelFunc
	stream extprocv3.ExternalProcessor_ProcessClient
	mode   *filterv3.ProcessingMode
	attrs  map[string]*structpb.Struct // sent with the first message only, like Envoy
	route  Route
	// done means the processor is out of the picture for the rest of the request:
	// it closed the stream cleanly, or it failed and failure_mode_allow applies.
	done bool
}

// answer is a processor's reply to one message once its type has been checked.
type answer struct {
	common    *extprocv3.CommonResponse
	immediate *extprocv3.ImmediateResponse
}

type reply struct {
	stream extprocv3.ExternalProcessor_ProcessClient
	resp   *extprocv3.ProcessingResponse
	err    error
}

// call sends one message and waits for its answer within the message timeout. It
// returns a nil answer and nil error when the request goes on unprocessed.
func (s *session) call(req *extprocv3.ProcessingRequest) (*answer, error) {
	if s.done {
		return nil, nil
	}
	if s.attrs != nil {
		req.Attributes, s.attrs = s.attrs, nil
	}
	// Open, Send and Recv run in their own goroutine so that a silent processor
	// costs exactly the message timeout; cancelling the stream context unblocks
	// them. The stream is handed back through the channel, never shared.
	ch := make(chan reply, 1)
	stream := s.stream
	go func() {
		if stream == nil {
			st, err := s.client.Process(s.ctx)
			if err != nil {
				ch <- reply{err: err}
				return
			}
			stream = st
		}
		if err := stream.Send(req); err != nil {
			ch <- reply{stream: stream, err: err}
			return
		}
		resp, err := stream.Recv()
		ch <- reply{stream, resp, err}
	}()
	timer := time.NewTimer(s.cfg.MessageTimeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		s.stream = r.stream
		if errors.Is(r.err, io.EOF) {
			// A clean close means "carry on without me" in Envoy's protocol.
			s.done = true
			return nil, nil
		}
		if r.err != nil {
			return nil, s.fail(&failure{http.StatusInternalServerError, "ext_proc stream: " + r.err.Error()})
		}
		return s.check(req, r.resp)
	case <-timer.C:
		s.cancel()
		return nil, s.fail(&failure{http.StatusGatewayTimeout, "ext_proc message timeout"})
	}
}

// check enforces that the reply matches the message: anything else is what Envoy
// calls a spurious message.
func (s *session) check(req *extprocv3.ProcessingRequest, resp *extprocv3.ProcessingResponse) (*answer, error) {
	a := &answer{}
	ok := false
	switch r := resp.GetResponse().(type) {
	case *extprocv3.ProcessingResponse_ImmediateResponse:
		a.immediate, ok = r.ImmediateResponse, true
	case *extprocv3.ProcessingResponse_RequestHeaders:
		_, ok = req.GetRequest().(*extprocv3.ProcessingRequest_RequestHeaders)
		a.common = r.RequestHeaders.GetResponse()
	case *extprocv3.ProcessingResponse_RequestBody:
		_, ok = req.GetRequest().(*extprocv3.ProcessingRequest_RequestBody)
		a.common = r.RequestBody.GetResponse()
	case *extprocv3.ProcessingResponse_ResponseHeaders:
		_, ok = req.GetRequest().(*extprocv3.ProcessingRequest_ResponseHeaders)
		a.common = r.ResponseHeaders.GetResponse()
	case *extprocv3.ProcessingResponse_ResponseBody:
		_, ok = req.GetRequest().(*extprocv3.ProcessingRequest_ResponseBody)
		a.common = r.ResponseBody.GetResponse()
	}
	if !ok {
		return nil, s.fail(&failure{http.StatusInternalServerError,
			fmt.Sprintf("spurious ext_proc message %T in reply to %T", resp.GetResponse(), req.GetRequest())})
	}
	if resp.GetModeOverride() != nil && s.cfg.AllowModeOverride && isHeaders(req) {
		if err := checkMode(resp.GetModeOverride()); err != nil {
			return nil, s.fail(&failure{http.StatusInternalServerError, err.Error()})
		}
		s.mode = override(s.mode, resp.GetModeOverride())
	}
	return a, nil
}

func isHeaders(req *extprocv3.ProcessingRequest) bool {
	switch req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders, *extprocv3.ProcessingRequest_ResponseHeaders:
		return true
	}
	return false
}

// fail ends processing: with failure_mode_allow the request continues unprocessed
// (nil), otherwise the failure becomes the response.
func (s *session) fail(f *failure) error {
	s.done = true
	s.cancel()
	if s.cfg.FailureModeAllow {
		s.log.Warn("ext_proc failed; continuing unprocessed (failure_mode_allow)", "reason", f.reason)
		return nil
	}
	s.log.Error("ext_proc failed", "status", f.status, "reason", f.reason)
	return f
}

// close ends the stream the way Envoy does when a request is over: half-close, then
// release the stream's resources.
func (s *session) close() {
	if !s.done && s.stream != nil {
		_ = s.stream.CloseSend()
	}
	s.cancel()
}

// ignored logs header mutations dropped under Envoy's default mutation rules, so a
// policy author sees why a header did not change.
func (s *session) ignored(n int) {
	if n > 0 {
		s.log.Warn("ignored header mutations (not allowed by Envoy's default mutation_rules)", "count", n)
	}
}
