package kernel

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

const authConfig = `routes:
  - name: orders
    policies:
      - name: auth
        version: v1.0.0
        parameters: {key: good}
      - name: edit
        version: v1.0.0
        parameters:
          set: {x-gateway: engine}
`

func TestRequestHeadersDenyAndAllow(t *testing.T) {
	e := startEngine(t, authConfig)

	s := e.open(t)
	resp := s.send(requestHeaders("orders", true))
	ir := resp.GetImmediateResponse()
	if ir == nil || ir.GetStatus().GetCode() != 401 || string(ir.GetBody()) != "missing or invalid key" {
		t.Fatalf("no key: got %v", resp)
	}
	if h := immediateHeaders(ir); h["www-authenticate"] != "ApiKey" || h["content-type"] != "text/plain" {
		t.Errorf("immediate headers %v", h)
	}
	if ir.GetDetails() != "auth_failed" {
		t.Errorf("details %q: whitespace must be replaced", ir.GetDetails())
	}
	s.close()

	s = e.open(t)
	resp = s.send(requestHeaders("orders", true, "x-api-key", "good"))
	hr := resp.GetRequestHeaders()
	if hr == nil {
		t.Fatalf("valid key: got %v", resp)
	}
	if hr.GetResponse().GetStatus() != extprocv3.CommonResponse_CONTINUE {
		t.Errorf("status %v", hr.GetResponse().GetStatus())
	}
	got := setHeaders(hr.GetResponse())
	if got["x-user"] != "alice" || got["x-gateway"] != "engine" || len(got) != 2 {
		t.Errorf("set headers %v", got)
	}
	mode := resp.GetModeOverride()
	if mode.GetRequestBodyMode() != extprocfilterv3.ProcessingMode_NONE || mode.GetResponseHeaderMode() != extprocfilterv3.ProcessingMode_SKIP {
		t.Errorf("a headers-only chain must not ask for more: %v", mode)
	}
	s.close()

	if n := e.metricValue(t, "policy_engine_requests_total", "route=orders", "decision=deny"); n != 1 {
		t.Errorf("deny count %v", n)
	}
	if n := e.metricValue(t, "policy_engine_requests_total", "route=orders", "decision=allow"); n != 1 {
		t.Errorf("allow count %v", n)
	}
	if n := e.metricValue(t, "policy_engine_policy_executions_total", "policy=auth:v1.0.0", "decision=immediate"); n != 1 {
		t.Errorf("auth immediate count %v", n)
	}
}

func TestValueIsReadWhenRawValueIsEmpty(t *testing.T) {
	e := startEngine(t, authConfig)
	s := e.open(t)
	req := requestHeaders("orders", true)
	hm := req.GetRequestHeaders().GetHeaders()
	hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: "X-Api-Key", Value: "good"})
	if resp := s.send(req); resp.GetRequestHeaders() == nil {
		t.Fatalf("value not read: %v", resp)
	}
}

func TestRouteMapping(t *testing.T) {
	cfg := authConfig + `  - name: open
    policies:
      - name: edit
        version: v1.0.0
        parameters: {set: {x-chain: open}}
routeMetadata: {namespace: policy_engine, key: chain}
`
	t.Run("unknown route denied by default", func(t *testing.T) {
		e := startEngine(t, cfg)
		resp := e.open(t).send(requestHeaders("elsewhere", true))
		if resp.GetImmediateResponse().GetStatus().GetCode() != 403 {
			t.Fatalf("got %v", resp)
		}
		if n := e.metricValue(t, "policy_engine_requests_total", "decision=no_route"); n != 1 {
			t.Errorf("no_route count %v", n)
		}
	})
	t.Run("missing attributes denied", func(t *testing.T) {
		e := startEngine(t, cfg)
		if resp := e.open(t).send(requestHeaders("", true)); resp.GetImmediateResponse().GetStatus().GetCode() != 403 {
			t.Fatalf("got %v", resp)
		}
	})
	t.Run("allow", func(t *testing.T) {
		e := startEngine(t, cfg+"noRouteAction: allow\n")
		resp := e.open(t).send(requestHeaders("elsewhere", true))
		if resp.GetRequestHeaders() == nil || resp.GetModeOverride().GetResponseHeaderMode() != extprocfilterv3.ProcessingMode_SKIP {
			t.Fatalf("got %v", resp)
		}
	})
	t.Run("default route", func(t *testing.T) {
		e := startEngine(t, cfg+"defaultRoute: open\n")
		resp := e.open(t).send(requestHeaders("elsewhere", true))
		if setHeaders(resp.GetRequestHeaders().GetResponse())["x-chain"] != "open" {
			t.Fatalf("got %v", resp)
		}
	})
	t.Run("route metadata attribute", func(t *testing.T) {
		e := startEngine(t, cfg)
		req := requestHeaders("elsewhere", true)
		req.Attributes["envoy.filters.http.ext_proc"].Fields["xds.route_metadata"] = structpb.NewStringValue(
			`filter_metadata { key: "policy_engine" value { fields { key: "chain" value { string_value: "open" } } } }`)
		if got := setHeaders(e.open(t).send(req).GetRequestHeaders().GetResponse()); got["x-chain"] != "open" {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("metadata context", func(t *testing.T) {
		e := startEngine(t, cfg)
		req := requestHeaders("elsewhere", true)
		req.MetadataContext = chainMetadata("open")
		if got := setHeaders(e.open(t).send(req).GetRequestHeaders().GetResponse()); got["x-chain"] != "open" {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("route name wins over metadata", func(t *testing.T) {
		e := startEngine(t, cfg)
		req := requestHeaders("orders", true)
		req.MetadataContext = chainMetadata("open")
		if resp := e.open(t).send(req); resp.GetImmediateResponse().GetStatus().GetCode() != 401 {
			t.Fatalf("got %v", resp)
		}
	})
}

// chainMetadata is a request metadata_context that names chain under the
// configured route metadata key.
func chainMetadata(chain string) *corev3.Metadata {
	md, _ := structpb.NewStruct(map[string]any{"chain": chain})
	return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"policy_engine": md}}
}

func TestNotReadyWithoutConfiguration(t *testing.T) {
	e := startEngine(t, "")
	resp := e.open(t).send(requestHeaders("orders", true))
	if resp.GetImmediateResponse().GetStatus().GetCode() != 503 {
		t.Fatalf("got %v", resp)
	}
}

// The budgets are generous because these tests are about phases, not deadlines
// (failure_test.go covers those): under -race on a busy machine the defaults (100ms a
// policy, 180ms a phase) can run out and turn an answer into a 500.
const phasesConfig = `policyTimeout: 10s
phaseTimeout: 20s
routes:
  - name: upload
    policies:
      - name: auth
        version: v1.0.0
        parameters: {key: good}
      - name: body
        version: v1.0.0
      - name: resp
        version: v1.0.0
        parameters: {status: 201}
      - name: resp
        version: v2.0.0
`

func TestAllPhasesInOrder(t *testing.T) {
	e := startEngine(t, phasesConfig)
	s := e.open(t)

	resp := s.send(requestHeaders("upload", false, "x-api-key", "good"))
	hr := resp.GetRequestHeaders()
	if hr == nil {
		t.Fatalf("request headers: %v", resp)
	}
	if got := setHeaders(hr.GetResponse()); got["x-user"] != "alice" {
		t.Errorf("auth ran before the body policy: headers %v", got)
	}
	mode := resp.GetModeOverride()
	if mode.GetRequestBodyMode() != extprocfilterv3.ProcessingMode_BUFFERED ||
		mode.GetResponseHeaderMode() != extprocfilterv3.ProcessingMode_SEND ||
		mode.GetResponseBodyMode() != extprocfilterv3.ProcessingMode_BUFFERED {
		t.Errorf("mode override %v", mode)
	}

	resp = s.send(requestBody("hello", true))
	br := resp.GetRequestBody()
	if br == nil || setHeaders(br.GetResponse())["x-body"] != "hello" {
		t.Fatalf("request body: %v", resp)
	}

	resp = s.send(responseHeaders("200", false))
	rh := resp.GetResponseHeaders()
	if rh == nil {
		t.Fatalf("response headers: %v", resp)
	}
	got := setHeaders(rh.GetResponse())
	if got[":status"] != "201" || got["x-upstream-status"] != "200" || got["x-user-seen"] != "alice" {
		t.Errorf("response header mutation %v", got)
	}

	resp = s.send(responseBody("done", true))
	rb := resp.GetResponseBody()
	if rb == nil {
		t.Fatalf("response body: %v", resp)
	}
	if b := rb.GetResponse().GetBodyMutation().GetBody(); string(b) != "DONE" {
		t.Errorf("body mutation %q", b)
	}
	if cl := setHeaders(rb.GetResponse())["content-length"]; cl != "4" {
		t.Errorf("content-length %q, want 4", cl)
	}
	if seen := setHeaders(rb.GetResponse())["x-upstream-status"]; seen != "201" {
		t.Errorf("the body-phase policy saw status %q, want the 201 set before it", seen)
	}
	resp = s.send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseTrailers{ResponseTrailers: &extprocv3.HttpTrailers{}}})
	if resp.GetResponseTrailers() == nil {
		t.Errorf("trailers: %v", resp)
	}
	s.close()
}

// A BUFFERED body (what the engine asks for) arrives whole in one message, whose
// end_of_stream is false when the request has trailers: the body policies must run
// on it then too, not wait for more (Envoy sends none: that was a silent bypass).
func TestBodyPolicyDeniesOnBody(t *testing.T) {
	for _, tc := range []struct {
		name        string
		endOfStream bool
	}{{"last message", true}, {"trailers follow", false}} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEngine(t, phasesConfig)
			s := e.open(t)
			s.send(requestHeaders("upload", false, "x-api-key", "good"))
			resp := s.send(requestBody("so evil", tc.endOfStream))
			if resp.GetImmediateResponse().GetStatus().GetCode() != 400 {
				t.Fatalf("evil body: %v", resp)
			}
		})
	}
}

func TestBodyPolicyRunsOnBodylessRequest(t *testing.T) {
	e := startEngine(t, phasesConfig)
	s := e.open(t)
	resp := s.send(requestHeaders("upload", true, "x-api-key", "good"))
	got := setHeaders(resp.GetRequestHeaders().GetResponse())
	if _, ran := got["x-body"]; !ran || got["x-user"] != "alice" {
		t.Fatalf("whole chain must run when the request has no body: %v", got)
	}
}

func TestMissingRequestBodyIsNotASilentPass(t *testing.T) {
	e := startEngine(t, phasesConfig)
	s := e.open(t)
	s.send(requestHeaders("upload", false, "x-api-key", "good"))
	// Envoy ignored the mode override and never sent the body.
	resp := s.send(responseHeaders("200", true))
	if resp.GetImmediateResponse().GetStatus().GetCode() != 500 {
		t.Fatalf("got %v", resp)
	}
	if !strings.Contains(e.logs.String(), "allow_mode_override") {
		t.Error("log does not explain the cause")
	}
}

func TestUnexpectedMessagesGetMatchingResponses(t *testing.T) {
	e := startEngine(t, authConfig)
	s := e.open(t)
	if resp := s.send(requestHeaders("orders", false, "x-api-key", "good")); resp.GetRequestHeaders() == nil {
		t.Fatal(resp)
	}
	if resp := s.send(requestBody("x", true)); resp.GetRequestBody() == nil {
		t.Fatalf("request body: %v", resp)
	}
	req := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestTrailers{RequestTrailers: &extprocv3.HttpTrailers{}}}
	if resp := s.send(req); resp.GetRequestTrailers() == nil {
		t.Fatalf("request trailers: %v", resp)
	}
	if resp := s.send(responseHeaders("200", false)); resp.GetResponseHeaders() == nil {
		t.Fatalf("response headers: %v", resp)
	}
	if resp := s.send(responseBody("x", true)); resp.GetResponseBody() == nil {
		t.Fatalf("response body: %v", resp)
	}
	s.close()
}
