package kernel

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"github.com/policy-engine-builder/policy-engine/worker/core"
	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// translate builds the CommonResponse for r's changes and lists the header changes
// withheld from it. onHeaders selects CONTINUE_AND_REPLACE, needed to change a body
// from a headers response.
func translate(r *core.Result, rules core.MutationRules, onHeaders bool) (*extprocv3.CommonResponse, []string) {
	var dropped []string
	common := &extprocv3.CommonResponse{}
	hm := &extprocv3.HeaderMutation{}
	var buf [8]string
	for _, name := range sortedKeys(buf[:0], r.Headers.Set) {
		if !mutable(name, rules) || !validValue(r.Headers.Set[name]) {
			dropped = append(dropped, name)
			continue
		}
		if name == ":path" {
			common.ClearRouteCache = true
		}
		hm.SetHeaders = append(hm.SetHeaders, headerOption(name, r.Headers.Set[name], overwrite))
	}
	for _, name := range sortedKeys(buf[:0], r.Headers.Append) {
		if !mutable(name, rules) || strings.HasPrefix(name, ":") {
			dropped = append(dropped, name)
			continue
		}
		for _, v := range r.Headers.Append[name] {
			if !validValue(v) {
				dropped = append(dropped, name)
				continue
			}
			hm.SetHeaders = append(hm.SetHeaders, headerOption(name, v, appendValue))
		}
	}
	for _, name := range sortedKeys(buf[:0], r.Headers.Remove) {
		// Envoy refuses to remove pseudo-headers, whatever its mutation rules.
		if !mutable(name, rules) || strings.HasPrefix(name, ":") {
			dropped = append(dropped, name)
			continue
		}
		hm.RemoveHeaders = append(hm.RemoveHeaders, name)
	}
	if r.Path != "" {
		hm.SetHeaders = append(hm.SetHeaders, headerOption(":path", r.Path, overwrite))
		common.ClearRouteCache = true
	}
	if r.Method != "" {
		if rules.AllowAllRouting {
			hm.SetHeaders = append(hm.SetHeaders, headerOption(":method", r.Method, overwrite))
			common.ClearRouteCache = true
		} else {
			dropped = append(dropped, ":method")
		}
	}
	if r.Status != 0 {
		hm.SetHeaders = append(hm.SetHeaders, headerOption(":status", strconv.Itoa(r.Status), overwrite))
	}
	if r.Body != nil {
		// A replaced body must travel with a matching content-length, or the
		// upstream (or client) reads a truncated or padded message.
		hm.SetHeaders = append(hm.SetHeaders, headerOption("content-length", strconv.Itoa(len(r.Body.Content)), overwrite))
		if len(r.Body.Content) == 0 {
			common.BodyMutation = &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_ClearBody{ClearBody: true}}
		} else {
			common.BodyMutation = &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: r.Body.Content}}
		}
		if onHeaders {
			common.Status = extprocv3.CommonResponse_CONTINUE_AND_REPLACE
		}
	}
	if len(hm.SetHeaders) > 0 || len(hm.RemoveHeaders) > 0 {
		common.HeaderMutation = hm
	}
	return common, dropped
}

// sortedKeys appends m's keys to buf, sorted: the order of header changes must not
// depend on map order. buf on the caller's stack spares an allocation per message.
func sortedKeys[V any](buf []string, m map[string]V) []string {
	for k := range m {
		buf = append(buf, k)
	}
	slices.Sort(buf)
	return buf
}

// mutable reports whether Envoy, with the given mutation rules, applies a change
// to name. By default it ignores routing headers and x-envoy-*.
func mutable(name string, rules core.MutationRules) bool {
	switch {
	case name == ":authority" || name == "host" || name == ":scheme" || name == ":method":
		return rules.AllowAllRouting
	case strings.HasPrefix(name, "x-envoy-"):
		return rules.AllowEnvoy
	case name == "" || strings.ContainsAny(name, " \t\r\n:") && !strings.HasPrefix(name, ":"):
		return false
	}
	return true
}

// validValue rejects values Envoy would refuse or that would split a header
// (CR, LF, NUL), e.g. when a policy copies client input into a header.
func validValue(v string) bool {
	return !strings.ContainsAny(v, "\r\n\x00")
}

const (
	overwrite   = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
	appendValue = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
)

func headerOption(name, value string, action corev3.HeaderValueOption_HeaderAppendAction) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: name, RawValue: []byte(value)},
		AppendAction: action,
	}
}

func requestHeadersResponse(common *extprocv3.CommonResponse, mode *extprocfilterv3.ProcessingMode) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{
		Response: &extprocv3.ProcessingResponse_RequestHeaders{
			RequestHeaders: &extprocv3.HeadersResponse{Response: common},
		},
		ModeOverride: mode,
	}
}

func requestBodyResponse(common *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{
		RequestBody: &extprocv3.BodyResponse{Response: common},
	}}
}

func responseHeadersResponse(common *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{
		ResponseHeaders: &extprocv3.HeadersResponse{Response: common},
	}}
}

func responseBodyResponse(common *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{
		ResponseBody: &extprocv3.BodyResponse{Response: common},
	}}
}

func requestTrailersResponse() *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{
		RequestTrailers: &extprocv3.TrailersResponse{},
	}}
}

func responseTrailersResponse() *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{
		ResponseTrailers: &extprocv3.TrailersResponse{},
	}}
}

// immediateResponse answers the client directly. Header names are checked like
// mutations; details must not contain whitespace, which Envoy rejects in
// response code details.
func immediateResponse(r *policies.ImmediateResponse) *extprocv3.ProcessingResponse {
	ir := &extprocv3.ImmediateResponse{
		Status:  &typev3.HttpStatus{Code: typev3.StatusCode(r.Status)},
		Body:    r.Body,
		Details: sanitizeDetails(r.Details),
	}
	if len(r.Headers) > 0 {
		hm := &extprocv3.HeaderMutation{}
		for _, name := range slices.Sorted(maps.Keys(r.Headers)) {
			canonical := policies.CanonicalHeaderName(name)
			if strings.HasPrefix(canonical, ":") || !mutable(canonical, core.MutationRules{}) || !validValue(r.Headers[name]) {
				continue
			}
			hm.SetHeaders = append(hm.SetHeaders, headerOption(canonical, r.Headers[name], overwrite))
		}
		ir.Headers = hm
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: ir}}
}

func sanitizeDetails(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return '_'
		}
		return r
	}, s)
}

// Texts of the engine's own immediate responses.
const (
	detailsPolicyError = "policy_engine_error"
	detailsNoRoute     = "policy_engine_no_route_chain"
	detailsNotReady    = "policy_engine_not_ready"
	detailsBodyTooBig  = "policy_engine_body_too_large"
)

// errorResponse is the 500 for a failed policy on a fail-closed route: the id in
// the body and header matches the engine's log line, and nothing else leaks.
func errorResponse(id string) *extprocv3.ProcessingResponse {
	return immediateResponse(&policies.ImmediateResponse{
		Status: 500,
		Headers: map[string]string{
			"content-type":             "text/plain; charset=utf-8",
			"x-policy-engine-error-id": id,
		},
		Body:    []byte("policy engine error, id " + id + "\n"),
		Details: detailsPolicyError,
	})
}

func plainResponse(status int, body, details string) *extprocv3.ProcessingResponse {
	return immediateResponse(&policies.ImmediateResponse{
		Status:  status,
		Headers: map[string]string{"content-type": "text/plain; charset=utf-8"},
		Body:    []byte(body),
		Details: details,
	})
}
