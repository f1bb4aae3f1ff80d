package cors

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

func TestPolicyYAMLMatchesCode(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"allowOrigins": policytest.List("https://app.example.com")})
	policytest.CheckSpec(t, ".", p, params{})
}

func request(method string, headers ...string) *policies.RequestContext {
	return &policies.RequestContext{Context: context.Background(), Method: method, Headers: policytest.Headers(headers...)}
}

func response(req *policies.RequestContext, headers ...string) *policies.ResponseContext {
	return &policies.ResponseContext{Context: context.Background(), Request: req, Status: 200, Headers: policytest.Headers(headers...)}
}

func newPolicy(t *testing.T, params map[string]interface{}) *Policy {
	t.Helper()
	return policytest.New(t, ".", GetPolicy, params).(*Policy)
}

func TestPreflightAllowed(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{
		"allowOrigins":        policytest.List("https://app.example.com"),
		"allowOriginPatterns": policytest.List(`https://[a-z0-9-]+\.preview\.example\.com`),
		"allowHeaders":        policytest.List("Content-Type", "X-Request-Id"),
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
		"allowOrigins":        policytest.List("https://app.example.com"),
		"allowOriginPatterns": policytest.List(`https://[a-z]+\.example\.com`),
		"allowMethods":        policytest.List("GET", "POST"),
		"allowHeaders":        policytest.List("content-type"),
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
	p := newPolicy(t, map[string]interface{}{"allowOrigins": policytest.List("https://app.example.com")})
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
		"allowOrigins":     policytest.List("https://App.Example.com"),
		"exposeHeaders":    policytest.List("X-Total-Count", "ETag"),
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
	p := newPolicy(t, map[string]interface{}{"allowOrigins": policytest.List("*")})
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
	policytest.CheckRejected(t, ".", GetPolicy, []policytest.Rejection{
		{Params: map[string]interface{}{}, WantErr: `parameters "allowOrigins" and "allowOriginPatterns": at least one`},
		{Params: map[string]interface{}{"allowOrigins": policytest.List("*"), "allowCredentials": true}, WantErr: `parameter "allowOrigins": "*" cannot be combined with allowCredentials`},
		{Params: map[string]interface{}{"allowOrigins": policytest.List("*", "https://a.test")}, WantErr: `parameter "allowOrigins": "*" allows every origin and must stand alone`},
		{Params: map[string]interface{}{"allowOrigins": policytest.List("app.example.com")}, WantErr: `parameter "allowOrigins": item 0 "app.example.com": not an origin`},
		{Params: map[string]interface{}{"allowOrigins": policytest.List("https://a.test/")}, WantErr: `parameter "allowOrigins": item 0 "https://a.test/": an origin has no path`},
		{Params: map[string]interface{}{"allowOrigins": policytest.List("https://a.test/x")}, WantErr: `item 0 "https://a.test/x": not an origin`},
		{Params: map[string]interface{}{"allowOriginPatterns": policytest.List("https://(")}, WantErr: `parameter "allowOriginPatterns": item 0: error parsing regexp`},
		{Params: map[string]interface{}{"allowOrigins": policytest.List("https://a.test"), "allowMethods": policytest.List()}, WantErr: `parameter "allowMethods": must list at least one method`},
		{Params: map[string]interface{}{"allowOrigins": policytest.List("https://a.test"), "allowHeaders": policytest.List("bad header")}, WantErr: `parameter "allowHeaders": at /0: 'bad header' does not match pattern`},
		{Params: map[string]interface{}{"allowOrigins": policytest.List("https://a.test"), "allowMethods": policytest.List("GET", "")}, WantErr: `parameter "allowMethods": at /1: '' does not match pattern`},
		{Params: map[string]interface{}{"allowOrigins": policytest.List("https://a.test"), "exposeHeaders": policytest.List("x-a,x-b")}, WantErr: `parameter "exposeHeaders": at /0: 'x-a,x-b' does not match pattern`},
		{Params: map[string]interface{}{"allowOriginPatterns": policytest.List("")}, WantErr: `parameter "allowOriginPatterns": at /0: minLength: got 0, want 1`},
		{Params: map[string]interface{}{"allowOrigins": policytest.List("")}, WantErr: `parameter "allowOrigins": at /0: minLength: got 0, want 1`},
		{Params: map[string]interface{}{"allowOrigins": policytest.List("https://a.test"), "maxAge": 86401.0}, WantErr: `parameter "maxAge"`},
		{Params: map[string]interface{}{"allowOrigins": policytest.List("https://a.test"), "origins": policytest.List("x")}, WantErr: `parameter "origins"`},
	})
}

func TestConcurrentUse(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{"allowOrigins": policytest.List("https://a.test")})
	policytest.Concurrently(t, 16, 100, func(int) error {
		a := p.ExecuteResponse(response(request("GET", "origin", "https://a.test")), nil)
		a.Headers.Set["access-control-allow-origin"] = "mutated by the engine"
		a.Headers.Append["vary"][0] = "mutated"
		return nil
	})
	if got := p.ExecuteResponse(response(request("GET", "origin", "https://a.test")), nil); got.Headers.Set["access-control-allow-origin"] != "https://a.test" || got.Headers.Append["vary"][0] != "Origin" {
		t.Errorf("configuration changed by callers: %+v", got.Headers)
	}
}
