package devproxy

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// Each failure is checked fail-closed (Envoy's status) and fail-open (the request
// reaches the upstream unprocessed: no mutation from the faulty processor).
func TestProcessorFailures(t *testing.T) {
	mutating := func(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
		return answerWith(req, &extprocv3.CommonResponse{HeaderMutation: &extprocv3.HeaderMutation{
			SetHeaders: []*corev3.HeaderValueOption{setHeader("x-processed", "1")}}})
	}
	cases := []struct {
		name     string
		handle   handler
		closed   int
		upstream int // upstream hits when fail-closed
	}{
		{"message timeout", func(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
			time.Sleep(150 * time.Millisecond)
			return mutating(req), nil
		}, http.StatusGatewayTimeout, 0},
		{"spurious message", func(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
			wrong := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{}}
			resp := mutating(wrong)
			return resp, nil
		}, http.StatusInternalServerError, 0},
		{"stream error", func(*extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
			return nil, errors.New("policy engine exploded")
		}, http.StatusInternalServerError, 0},
	}
	for _, c := range cases {
		for _, open := range []bool{false, true} {
			e := start(t, Config{MessageTimeout: 50 * time.Millisecond, FailureModeAllow: open}, c.handle)
			r := e.do(t, http.MethodGet, "/f", "", nil)
			want, hits := c.closed, c.upstream
			if open {
				want, hits = http.StatusOK, 1
			}
			if r.status != want || len(e.up.seen()) != hits {
				t.Errorf("%s (failure_mode_allow=%v): status %d, upstream hits %d; want %d, %d",
					c.name, open, r.status, len(e.up.seen()), want, hits)
				continue
			}
			if open && e.up.seen()[0].header.Get("X-Processed") != "" {
				t.Errorf("%s: fail-open request carried a mutation from the failed processor", c.name)
			}
			// After a failure Envoy makes no further calls for this request.
			if got := len(e.proc.kinds()); got != 1 {
				t.Errorf("%s (failure_mode_allow=%v): processor saw %d messages, want 1", c.name, open, got)
			}
		}
	}
}

func TestCleanCloseContinuesWithoutFurtherCalls(t *testing.T) {
	e := start(t, Config{}, func(*extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
		return nil, nil
	})
	r := e.do(t, http.MethodGet, "/c", "", nil)
	equal(t, "status", r.status, http.StatusOK)
	equal(t, "messages", e.proc.kinds(), []string{"request_headers"})
	equal(t, "upstream hits", len(e.up.seen()), 1)
}

func TestUnreachableProcessorFailsClosed(t *testing.T) {
	up := newUpstream(t, "default")
	p, err := New(Config{Upstream: up.url(t), ExtProc: "127.0.0.1:1", MessageTimeout: 100 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rec := httptest.NewRecorder()
	req, _ := http.NewRequest(http.MethodGet, "http://proxy/x", nil)
	p.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError && rec.Code != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 500 or 504", rec.Code)
	}
	equal(t, "upstream hits", len(up.seen()), 0)
}

func TestResponsePhaseTimeoutFailOpenPassesUpstreamResponse(t *testing.T) {
	e := start(t, Config{MessageTimeout: 50 * time.Millisecond, FailureModeAllow: true},
		func(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
			if req.GetResponseHeaders() != nil {
				time.Sleep(150 * time.Millisecond)
			}
			return cont(req)
		})
	r := e.do(t, http.MethodGet, "/slow", "", nil)
	equal(t, "status", r.status, http.StatusOK)
	equal(t, "body", r.body, "default saw /slow ")
	equal(t, "x-upstream", r.header.Get("X-Upstream"), "default")
}

func TestUnsupportedModeOverrideFailsTheRequest(t *testing.T) {
	e := start(t, Config{AllowModeOverride: true}, func(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
		resp, _ := cont(req)
		resp.ModeOverride = &filterv3.ProcessingMode{RequestBodyMode: filterv3.ProcessingMode_FULL_DUPLEX_STREAMED}
		return resp, nil
	})
	r := e.do(t, http.MethodPost, "/o", "body", nil)
	equal(t, "status", r.status, http.StatusInternalServerError)
	equal(t, "upstream hits", len(e.up.seen()), 0)
}
