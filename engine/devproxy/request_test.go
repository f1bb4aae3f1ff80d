package devproxy

import (
	"net/http"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	filterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

func TestDefaultModeSendsHeadersWithAttributes(t *testing.T) {
	e := start(t, Config{Routes: []Route{{Prefix: "/api", Name: "api-route"}, {Prefix: "/api/v2", Name: "v2-route"}}}, cont)
	r := e.do(t, http.MethodPost, "/api/v2/items?q=1", "payload", map[string]string{"X-Key": "k1"})
	equal(t, "status", r.status, http.StatusOK)
	// Default mode: headers both ways, no bodies, no trailers.
	equal(t, "messages", e.proc.kinds(), []string{"request_headers", "response_headers"})
	first := e.proc.messages()[0]
	hm := first.GetRequestHeaders().GetHeaders()
	for name, want := range map[string]string{":method": "POST", ":path": "/api/v2/items?q=1", ":scheme": "http",
		":authority": strings.TrimPrefix(e.proxy.URL, "http://"), "x-key": "k1"} {
		got, _ := header(hm, name)
		equal(t, name, got, want)
	}
	for _, h := range hm.GetHeaders() {
		if h.GetValue() != "" {
			t.Errorf("header %s sent in value, want raw_value only", h.GetKey())
		}
	}
	equal(t, "end_of_stream", first.GetRequestHeaders().GetEndOfStream(), false)
	attrs := first.GetAttributes()["envoy.filters.http.ext_proc"].GetFields()
	equal(t, "xds.route_name", attrs["xds.route_name"].GetStringValue(), "v2-route")
	if !strings.HasPrefix(attrs["source.address"].GetStringValue(), "127.0.0.1:") {
		t.Errorf("source.address = %q", attrs["source.address"].GetStringValue())
	}
	if e.proc.messages()[1].GetAttributes() != nil {
		t.Error("attributes sent again on response_headers; Envoy sends them once")
	}
	equal(t, "upstream body", e.up.seen()[0].body, "payload")
	status, _ := header(e.proc.messages()[1].GetResponseHeaders().GetHeaders(), ":status")
	equal(t, ":status", status, "200")
}

func TestUnroutedRequestHasNoRouteName(t *testing.T) {
	e := start(t, Config{Routes: []Route{{Prefix: "/api", Name: "api-route"}}}, cont)
	e.do(t, http.MethodGet, "/other", "", nil)
	attrs := e.proc.messages()[0].GetAttributes()["envoy.filters.http.ext_proc"].GetFields()
	if _, ok := attrs["xds.route_name"]; ok {
		t.Errorf("xds.route_name sent for an unrouted path: %v", attrs)
	}
	equal(t, "end_of_stream", e.proc.messages()[0].GetRequestHeaders().GetEndOfStream(), true)
}

func TestImmediateResponseStopsTheRequest(t *testing.T) {
	e := start(t, Config{}, func(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden},
			Headers: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{setHeader("x-denied-by", "apiKey")}},
			Body:    []byte("no key"),
		}}}, nil
	})
	r := e.do(t, http.MethodGet, "/x", "", nil)
	equal(t, "status", r.status, http.StatusForbidden)
	equal(t, "body", r.body, "no key")
	equal(t, "x-denied-by", r.header.Get("X-Denied-By"), "apiKey")
	equal(t, "upstream hits", len(e.up.seen()), 0)
	equal(t, "messages", e.proc.kinds(), []string{"request_headers"})
}

func TestHeaderMutationsFollowEnvoyDefaultRules(t *testing.T) {
	e := start(t, Config{}, func(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
		if req.GetRequestHeaders() == nil {
			return cont(req)
		}
		appendOpt := setHeader("x-multi", "b")
		appendOpt.AppendAction = 0 // APPEND_IF_EXISTS_OR_ADD
		return answerWith(req, &extprocv3.CommonResponse{HeaderMutation: &extprocv3.HeaderMutation{
			SetHeaders: []*corev3.HeaderValueOption{
				setHeader("x-added", "yes"), setHeader("x-key", "replaced"), appendOpt,
				setHeader("host", "evil.example"), setHeader(":authority", "evil.example"),
				setHeader(":method", "DELETE"), setHeader("x-envoy-internal", "1"),
			},
			RemoveHeaders: []string{"x-remove", "x-envoy-keep", ":path"},
		}}), nil
	})
	r := e.do(t, http.MethodGet, "/m", "", map[string]string{"X-Key": "orig", "X-Remove": "1", "X-Multi": "a", "X-Envoy-Keep": "1"})
	equal(t, "status", r.status, http.StatusOK)
	hit := e.up.seen()[0]
	equal(t, "x-added", hit.header.Get("X-Added"), "yes")
	equal(t, "x-key", hit.header.Get("X-Key"), "replaced")
	equal(t, "x-multi", hit.header.Values("X-Multi"), []string{"a", "b"})
	equal(t, "x-remove", hit.header.Values("X-Remove"), []string(nil))
	equal(t, "x-envoy-keep", hit.header.Get("X-Envoy-Keep"), "1")
	equal(t, "x-envoy-internal", hit.header.Get("X-Envoy-Internal"), "")
	equal(t, "path", hit.path, "/m")
	if hit.host == "evil.example" {
		t.Error("host mutation applied; Envoy ignores it by default")
	}
}

func TestPathRewriteReroutesOnlyWithClearRouteCache(t *testing.T) {
	for _, clear := range []bool{true, false} {
		other := newUpstream(t, "other")
		e := start(t, Config{Routes: []Route{{Prefix: "/old", Name: "old"}, {Prefix: "/new", Name: "new", Upstream: other.url(t)}}},
			func(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
				if req.GetRequestHeaders() == nil {
					return cont(req)
				}
				return answerWith(req, &extprocv3.CommonResponse{ClearRouteCache: clear,
					HeaderMutation: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{setHeader(":path", "/new/x?y=1")}}}), nil
			})
		r := e.do(t, http.MethodGet, "/old/a", "", nil)
		equal(t, "status", r.status, http.StatusOK)
		want, stale := other, e.up
		if !clear {
			want, stale = e.up, other
		}
		if len(want.seen()) != 1 || len(stale.seen()) != 0 {
			t.Fatalf("clear_route_cache=%v: default upstream hits %d, other %d", clear, len(e.up.seen()), len(other.seen()))
		}
		equal(t, "upstream path", want.seen()[0].path, "/new/x?y=1")
	}
}

func TestBufferedRequestBodyReplacementFixesContentLength(t *testing.T) {
	e := start(t, Config{Mode: bufferedRequest()}, func(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
		if b := req.GetRequestBody(); b != nil {
			if string(b.GetBody()) != "short" || !b.GetEndOfStream() {
				t.Errorf("request_body = %q eos=%v", b.GetBody(), b.GetEndOfStream())
			}
			return answerWith(req, &extprocv3.CommonResponse{
				HeaderMutation: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{setHeader("x-body-seen", "1")}},
				BodyMutation:   &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: []byte("a much longer body")}},
			}), nil
		}
		return cont(req)
	})
	r := e.do(t, http.MethodPost, "/b", "short", nil)
	equal(t, "status", r.status, http.StatusOK)
	equal(t, "messages", e.proc.kinds(), []string{"request_headers", "request_body", "response_headers"})
	hit := e.up.seen()[0]
	equal(t, "upstream body", hit.body, "a much longer body")
	equal(t, "upstream content-length", hit.length, int64(len("a much longer body")))
	equal(t, "x-body-seen", hit.header.Get("X-Body-Seen"), "1")
}

func TestBufferedBodyOverLimitIs413(t *testing.T) {
	e := start(t, Config{Mode: bufferedRequest(), MaxBody: 8}, cont)
	r := e.do(t, http.MethodPost, "/b", "0123456789", nil)
	equal(t, "status", r.status, http.StatusRequestEntityTooLarge)
	equal(t, "messages", e.proc.kinds(), []string{"request_headers"})
	equal(t, "upstream hits", len(e.up.seen()), 0)
}

func TestModeOverrideAsksForBodyOnlyWhenAllowed(t *testing.T) {
	for _, allow := range []bool{true, false} {
		e := start(t, Config{AllowModeOverride: allow}, func(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
			resp, _ := cont(req)
			if req.GetRequestHeaders() != nil {
				resp.ModeOverride = &filterv3.ProcessingMode{RequestBodyMode: filterv3.ProcessingMode_BUFFERED, ResponseHeaderMode: filterv3.ProcessingMode_SKIP}
			}
			return resp, nil
		})
		r := e.do(t, http.MethodPost, "/o", "body", nil)
		equal(t, "status", r.status, http.StatusOK)
		want := []string{"request_headers", "request_body"}
		if !allow {
			want = []string{"request_headers", "response_headers"}
		}
		equal(t, "messages (allowModeOverride="+map[bool]string{true: "true", false: "false"}[allow]+")", e.proc.kinds(), want)
	}
}

func TestContinueAndReplaceOnHeadersSkipsBodyPhase(t *testing.T) {
	e := start(t, Config{Mode: bufferedRequest()}, func(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
		if req.GetRequestHeaders() != nil {
			return answerWith(req, &extprocv3.CommonResponse{Status: extprocv3.CommonResponse_CONTINUE_AND_REPLACE,
				BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: []byte("replaced")}}}), nil
		}
		return cont(req)
	})
	e.do(t, http.MethodPost, "/r", "original", nil)
	equal(t, "messages", e.proc.kinds(), []string{"request_headers", "response_headers"})
	equal(t, "upstream body", e.up.seen()[0].body, "replaced")
}

func bufferedRequest() *filterv3.ProcessingMode {
	m := DefaultMode()
	m.RequestBodyMode = filterv3.ProcessingMode_BUFFERED
	return m
}
