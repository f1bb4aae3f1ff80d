package cors

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

func TestPolicyYAMLMatchesCode(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"allowOrigins": list("https://app.example.com")})
	policytest.CheckSpec(t, ".", p, params{})
}

func list(items ...string) []interface{} {
	out := make([]interface{}, len(items))
	for i, s := range items {
		out[i] = s
	}
	return out
}

func request(method string, headers ...string) *policies.RequestContext {
	h := map[string][]string{}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = append(h[headers[i]], headers[i+1])
	}
	return &policies.RequestContext{Context: context.Background(), Method: method, Headers: policies.NewHeaders(h)}
}

func response(req *policies.RequestContext, headers ...string) *policies.ResponseContext {
	h := map[string][]string{}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = append(h[headers[i]], headers[i+1])
	}
	return &policies.ResponseContext{Context: context.Background(), Request: req, Status: 200, Headers: policies.NewHeaders(h)}
}

func newPolicy(t *testing.T, params map[string]interface{}) *Policy {
	t.Helper()
	return policytest.New(t, ".", GetPolicy, params).(*Policy)
}

func TestPreflightAllowed(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{
		"allowOrigins":        list("https://app.example.com"),
		"allowOriginPatterns": list(`https://[a-z0-9-]+\.preview\.example\.com`),
		"allowHeaders":        list("Content-Type", "X-Request-Id"),
		"allowCredentials":    true,
		"maxAge":              120.0,
	})
	for _, origin := range []string{"https://app.example.com", "https://pr-12.preview.example.com"} {
		a := p.ExecuteRequest(request("OPTIONS", "origin", origin, "access-control-request-method", "PUT",
			"access-control-request-headers", "content-type, X-Request-ID"), nil)
		if a == nil || a.Immediate == nil {
			t.Fatalf("%s: preflight not answered: %+v", origin, a)
		}
		want := map[string]string{
			"access-control-allow-origin":      origin,
			"access-control-allow-methods":     "GET, HEAD, POST, PUT, PATCH, DELETE",
			"access-control-allow-headers":     "content-type, x-request-id",
			"access-control-allow-credentials": "true",
			"access-control-max-age":           "120",
			"vary":                             preflightVary,
		}
		if a.Immediate.Status != 204 || !reflect.DeepEqual(a.Immediate.Headers, want) {
			t.Errorf("%s: got %d %v,\nwant 204 %v", origin, a.Immediate.Status, a.Immediate.Headers, want)
		}
	}
}

func TestPreflightRefused(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{
		"allowOrigins":        list("https://app.example.com"),
		"allowOriginPatterns": list(`https://[a-z]+\.example\.com`),
		"allowMethods":        list("GET", "POST"),
		"allowHeaders":        list("content-type"),
	})
	tests := map[string]*policies.RequestContext{
		"other origin":         request("OPTIONS", "origin", "https://evil.test", "access-control-request-method", "GET"),
		"pattern is anchored":  request("OPTIONS", "origin", "https://app.example.com.evil.test", "access-control-request-method", "GET"),
		"pattern suffix":       request("OPTIONS", "origin", "http://x.https://a.example.com", "access-control-request-method", "GET"),
		"method not allowed":   request("OPTIONS", "origin", "https://app.example.com", "access-control-request-method", "DELETE"),
		"method is case-exact": request("OPTIONS", "origin", "https://app.example.com", "access-control-request-method", "post"),
		"header not allowed":   request("OPTIONS", "origin", "https://app.example.com", "access-control-request-method", "GET", "access-control-request-headers", "content-type,authorization"),
	}
	for name, req := range tests {
		a := p.ExecuteRequest(req, nil)
		if a == nil || a.Immediate == nil || a.Immediate.Status != 403 || a.Immediate.Headers["access-control-allow-origin"] != "" {
			t.Errorf("%s: want 403 without allow-origin, got %+v", name, a)
		}
	}
}

func TestNotPreflightPassesThrough(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{"allowOrigins": list("https://app.example.com")})
	for name, req := range map[string]*policies.RequestContext{
		"GET with origin":                   request("GET", "origin", "https://app.example.com"),
		"OPTIONS without request method":    request("OPTIONS", "origin", "https://app.example.com"),
		"OPTIONS without origin":            request("OPTIONS", "access-control-request-method", "GET"),
		"disallowed origin, actual request": request("POST", "origin", "https://evil.test"),
	} {
		if a := p.ExecuteRequest(req, nil); a != nil {
			t.Errorf("%s: want nil, got %+v", name, a)
		}
	}
}

func TestActualResponse(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{
		"allowOrigins":     list("https://App.Example.com"),
		"exposeHeaders":    list("X-Total-Count", "ETag"),
		"allowCredentials": true,
	})
	a := p.ExecuteResponse(response(request("GET", "origin", "https://app.example.com"), "vary", "Accept-Encoding"), nil)
	wantSet := map[string]string{
		"access-control-allow-origin":      "https://app.example.com",
		"access-control-allow-credentials": "true",
		"access-control-expose-headers":    "x-total-count, etag",
	}
	if !reflect.DeepEqual(a.Headers.Set, wantSet) || !reflect.DeepEqual(a.Headers.Append, map[string][]string{"vary": {"Origin"}}) || len(a.Headers.Remove) != 0 {
		t.Errorf("allowed origin: %+v", a.Headers)
	}
	// Another origin gets no CORS headers, the upstream's are removed, and Vary is
	// not repeated when the upstream already varies on Origin.
	a = p.ExecuteResponse(response(request("GET", "origin", "https://evil.test"), "vary", "accept, origin", "access-control-allow-origin", "*"), nil)
	if len(a.Headers.Set) != 0 || len(a.Headers.Append) != 0 || !slices.Equal(a.Headers.Remove, corsHeaders) {
		t.Errorf("other origin: %+v", a.Headers)
	}
	a = p.ExecuteResponse(response(request("GET")), nil)
	if len(a.Headers.Set) != 0 || a.Headers.Append["vary"][0] != "Origin" {
		t.Errorf("no origin: %+v", a.Headers)
	}
}

func TestWildcard(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{"allowOrigins": list("*")})
	a := p.ExecuteResponse(response(request("GET", "origin", "https://anyone.test")), nil)
	if a.Headers.Set["access-control-allow-origin"] != "*" || !slices.Contains(a.Headers.Remove, "access-control-allow-credentials") {
		t.Errorf("wildcard: %+v", a.Headers)
	}
	pre := p.ExecuteRequest(request("OPTIONS", "origin", "https://anyone.test", "access-control-request-method", "GET"), nil)
	if pre.Immediate.Headers["access-control-allow-origin"] != "*" {
		t.Errorf("wildcard preflight: %+v", pre.Immediate.Headers)
	}
}

func TestRejectedParameters(t *testing.T) {
	tests := []struct {
		params  map[string]interface{}
		wantErr string
	}{
		{map[string]interface{}{}, `parameters "allowOrigins" and "allowOriginPatterns": at least one`},
		{map[string]interface{}{"allowOrigins": list("*"), "allowCredentials": true}, `parameter "allowOrigins": "*" cannot be combined with allowCredentials`},
		{map[string]interface{}{"allowOrigins": list("*", "https://a.test")}, `parameter "allowOrigins": "*" allows every origin and must stand alone`},
		{map[string]interface{}{"allowOrigins": list("app.example.com")}, `parameter "allowOrigins": item 0 "app.example.com": not an origin`},
		{map[string]interface{}{"allowOrigins": list("https://a.test/")}, `parameter "allowOrigins": item 0 "https://a.test/": an origin has no path`},
		{map[string]interface{}{"allowOrigins": list("https://a.test/x")}, `item 0 "https://a.test/x": not an origin`},
		{map[string]interface{}{"allowOriginPatterns": list("https://(")}, `parameter "allowOriginPatterns": item 0: error parsing regexp`},
		{map[string]interface{}{"allowOrigins": list("https://a.test"), "allowMethods": list()}, `parameter "allowMethods": must list at least one method`},
		{map[string]interface{}{"allowOrigins": list("https://a.test"), "allowHeaders": list("bad header")}, `parameter "allowHeaders": at /0: 'bad header' does not match pattern`},
		{map[string]interface{}{"allowOrigins": list("https://a.test"), "allowMethods": list("GET", "")}, `parameter "allowMethods": at /1: '' does not match pattern`},
		{map[string]interface{}{"allowOrigins": list("https://a.test"), "exposeHeaders": list("x-a,x-b")}, `parameter "exposeHeaders": at /0: 'x-a,x-b' does not match pattern`},
		{map[string]interface{}{"allowOriginPatterns": list("")}, `parameter "allowOriginPatterns": at /0: minLength: got 0, want 1`},
		{map[string]interface{}{"allowOrigins": list("")}, `parameter "allowOrigins": at /0: minLength: got 0, want 1`},
		{map[string]interface{}{"allowOrigins": list("https://a.test"), "maxAge": 86401.0}, `parameter "maxAge"`},
		{map[string]interface{}{"allowOrigins": list("https://a.test"), "origins": list("x")}, `parameter "origins"`},
	}
	for _, tc := range tests {
		_, err := policytest.Build(t, ".", GetPolicy, tc.params)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%v: error %v, want it to contain %q", tc.params, err, tc.wantErr)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{"allowOrigins": list("https://a.test")})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 100 {
				a := p.ExecuteResponse(response(request("GET", "origin", "https://a.test")), nil)
				a.Headers.Set["access-control-allow-origin"] = "mutated by the engine"
				a.Headers.Append["vary"][0] = "mutated"
			}
		})
	}
	wg.Wait()
	if got := p.ExecuteResponse(response(request("GET", "origin", "https://a.test")), nil); got.Headers.Set["access-control-allow-origin"] != "https://a.test" || got.Headers.Append["vary"][0] != "Origin" {
		t.Errorf("configuration changed by callers: %+v", got.Headers)
	}
}
