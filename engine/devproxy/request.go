package devproxy

import (
	"net/http"
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// requestOutcome is what the request phases decided before the upstream is called.
type requestOutcome struct {
	headers   *headerSet
	body      bodyOutcome
	immediate *extprocv3.ImmediateResponse
}

// attributes are what Envoy sends for request_attributes [xds.route_name,
// source.address], under the filter's name.
func attributes(route Route, r *http.Request) map[string]*structpb.Struct {
	fields := map[string]*structpb.Value{"source.address": structpb.NewStringValue(r.RemoteAddr)}
	if route.Name != "" {
		fields["xds.route_name"] = structpb.NewStringValue(route.Name)
	}
	return map[string]*structpb.Struct{"envoy.filters.http.ext_proc": {Fields: fields}}
}

func requestHeaders(r *http.Request) *headerSet {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return newHeaderSet(map[string]string{
		":method":    r.Method,
		":path":      r.URL.RequestURI(),
		":scheme":    scheme,
		":authority": r.Host,
	}, r.Header)
}

// processRequest runs the request-side phases: headers, then the body when the
// (possibly overridden) mode asks for it.
func (s *session) processRequest(r *http.Request) (requestOutcome, error) {
	out := requestOutcome{headers: requestHeaders(r)}
	hs := out.headers
	eos := r.ContentLength == 0
	replaced := false
	if sendHeaders(s.mode.GetRequestHeaderMode()) {
		a, err := s.call(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{
			RequestHeaders: &extprocv3.HttpHeaders{Headers: hs.headerMap(), EndOfStream: eos},
		}})
		if err != nil {
			return out, err
		}
		if a != nil && a.immediate != nil {
			out.immediate = a.immediate
			return out, nil
		}
		if a != nil {
			c := a.common
			s.ignored(hs.apply(c.GetHeaderMutation()))
			if c.GetClearRouteCache() {
				s.route = s.cfg.route(pathOnly(hs.pseudo[":path"]))
			}
			// CONTINUE_AND_REPLACE on headers replaces the body outright; Envoy then
			// sends no body message.
			if c.GetStatus() == extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
				if nb, ok := mutateBody(c.GetBodyMutation()); ok {
					out.body = bodyOutcome{body: nb, buffered: true}
					setLength(hs, len(nb))
					replaced = true
				}
			}
		}
	}
	if eos || replaced || s.done || !sendBody(s.mode.GetRequestBodyMode()) {
		return out, nil
	}
	body, imm, err := s.bodyPhase(r.Body, hs, http.StatusRequestEntityTooLarge, func(b []byte) *extprocv3.ProcessingRequest {
		return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{
			RequestBody: &extprocv3.HttpBody{Body: b, EndOfStream: true},
		}}
	})
	out.body, out.immediate = body, imm
	return out, err
}

func pathOnly(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		return p[:i]
	}
	return p
}
