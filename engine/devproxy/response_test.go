package devproxy

import (
	"net/http"
	"strconv"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

func TestResponseHeadersAndBufferedBodyMutations(t *testing.T) {
	mode := DefaultMode()
	mode.ResponseBodyMode = filterv3.ProcessingMode_BUFFERED
	e := start(t, Config{Mode: mode}, func(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
		switch {
		case req.GetResponseHeaders() != nil:
			if up, _ := header(req.GetResponseHeaders().GetHeaders(), "x-upstream"); up != "default" {
				t.Errorf("response_headers x-upstream = %q", up)
			}
			return answerWith(req, &extprocv3.CommonResponse{HeaderMutation: &extprocv3.HeaderMutation{
				SetHeaders:    []*corev3.HeaderValueOption{setHeader(":status", "201"), setHeader("x-policy", "ran")},
				RemoveHeaders: []string{"x-upstream"},
			}}), nil
		case req.GetResponseBody() != nil:
			if got := string(req.GetResponseBody().GetBody()); got != "default saw /r " {
				t.Errorf("response_body = %q", got)
			}
			return answerWith(req, &extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{
				Mutation: &extprocv3.BodyMutation_Body{Body: []byte("rewritten")}}}), nil
		}
		return cont(req)
	})
	r := e.do(t, http.MethodGet, "/r", "", nil)
	equal(t, "status", r.status, http.StatusCreated)
	equal(t, "body", r.body, "rewritten")
	equal(t, "content-length", r.header.Get("Content-Length"), strconv.Itoa(len("rewritten")))
	equal(t, "x-policy", r.header.Get("X-Policy"), "ran")
	equal(t, "x-upstream", r.header.Get("X-Upstream"), "")
	// x-envoy-* from the upstream cannot be removed by the processor either.
	equal(t, "messages", e.proc.kinds(), []string{"request_headers", "response_headers", "response_body"})
}

func TestClearBodyOnResponse(t *testing.T) {
	mode := DefaultMode()
	mode.ResponseBodyMode = filterv3.ProcessingMode_BUFFERED
	e := start(t, Config{Mode: mode}, func(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
		if req.GetResponseBody() != nil {
			return answerWith(req, &extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{
				Mutation: &extprocv3.BodyMutation_ClearBody{ClearBody: true}}}), nil
		}
		return cont(req)
	})
	r := e.do(t, http.MethodGet, "/r", "", nil)
	equal(t, "body", r.body, "")
	equal(t, "content-length", r.header.Get("Content-Length"), "0")
}

func TestImmediateResponseOnResponseHeaders(t *testing.T) {
	e := start(t, Config{}, func(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
		if req.GetResponseHeaders() != nil {
			return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
				Status: &typev3.HttpStatus{Code: typev3.StatusCode_BadGateway}, Body: []byte("scrubbed")}}}, nil
		}
		return cont(req)
	})
	r := e.do(t, http.MethodGet, "/r", "", nil)
	equal(t, "status", r.status, http.StatusBadGateway)
	equal(t, "body", r.body, "scrubbed")
	equal(t, "x-upstream", r.header.Get("X-Upstream"), "")
}

func TestResponseBodyOverLimitIs500(t *testing.T) {
	mode := DefaultMode()
	mode.ResponseBodyMode = filterv3.ProcessingMode_BUFFERED
	e := start(t, Config{Mode: mode, MaxBody: 4}, cont)
	r := e.do(t, http.MethodGet, "/long-path", "", nil)
	equal(t, "status", r.status, http.StatusInternalServerError)
}
