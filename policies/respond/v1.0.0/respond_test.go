package respond

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

func TestPolicyYAMLMatchesCode(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{})
	policytest.CheckSpec(t, ".", p, params{})
}

func request(method, path string, headers ...string) *policies.RequestContext {
	h := map[string][]string{}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = []string{headers[i+1]}
	}
	return &policies.RequestContext{Context: context.Background(), Route: "r", Method: method, Path: path, Headers: policies.NewHeaders(h)}
}

func TestAlwaysResponds(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{
		"status":  503.0,
		"headers": map[string]interface{}{"Content-Type": "application/json", "retry-after": "600"},
		"body":    `{"status":"maintenance"}`,
	}).(*Policy)
	a := p.ExecuteRequest(request("GET", "/x"), nil)
	if a == nil || a.Immediate == nil {
		t.Fatalf("want an immediate response, got %+v", a)
	}
	want := map[string]string{"content-type": "application/json", "retry-after": "600"}
	if a.Immediate.Status != 503 || string(a.Immediate.Body) != `{"status":"maintenance"}` || !reflect.DeepEqual(a.Immediate.Headers, want) {
		t.Errorf("got %d %q %v", a.Immediate.Status, a.Immediate.Body, a.Immediate.Headers)
	}
	// What the engine does to one action must not reach the next.
	a.Immediate.Headers["retry-after"] = "0"
	a.Immediate.Body[0] = 'X'
	b := p.ExecuteRequest(request("GET", "/x"), nil)
	if b.Immediate.Headers["retry-after"] != "600" || b.Immediate.Body[0] != '{' {
		t.Errorf("actions share state: %+v", b.Immediate)
	}
}

func TestDefaultsAnswer200Empty(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{}).(*Policy)
	a := p.ExecuteRequest(request("GET", "/"), nil)
	if a.Immediate.Status != 200 || len(a.Immediate.Body) != 0 || len(a.Immediate.Headers) != 0 {
		t.Errorf("got %+v", a.Immediate)
	}
}

func TestCondition(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{
		"status":    200.0,
		"body":      "mocked",
		"condition": `request.method == "GET" && request.path.startsWith("/mock") && "x-mock" in request.headers`,
	}).(*Policy)
	if a := p.ExecuteRequest(request("GET", "/mock/a", "x-mock", "1"), nil); a == nil || string(a.Immediate.Body) != "mocked" {
		t.Errorf("condition true: got %+v", a)
	}
	for _, r := range []*policies.RequestContext{request("POST", "/mock/a", "x-mock", "1"), request("GET", "/real", "x-mock", "1"), request("GET", "/mock/a")} {
		if a := p.ExecuteRequest(r, nil); a != nil {
			t.Errorf("%s %s: condition false, want nil, got %+v", r.Method, r.Path, a)
		}
	}
}

func TestConditionErrorFailsThePolicy(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"condition": `request.headers["x-missing"] == "1"`}).(*Policy)
	a := p.ExecuteRequest(request("GET", "/"), nil)
	if a == nil || a.Error == nil || !strings.Contains(a.Error.Error(), `parameter "condition"`) {
		t.Errorf("want a failure naming the parameter, got %+v", a)
	}
}

func TestRejectedParameters(t *testing.T) {
	tests := []struct {
		params  map[string]interface{}
		wantErr string
	}{
		{map[string]interface{}{"status": 99.0}, `parameter "status"`},
		{map[string]interface{}{"status": 600.0}, `parameter "status"`},
		{map[string]interface{}{"status": 204.0, "body": "x"}, `parameter "body": status 204 has no body`},
		{map[string]interface{}{"headers": map[string]interface{}{"bad name": "x"}}, `parameter "headers": header "bad name": not a valid header name`},
		{map[string]interface{}{"headers": map[string]interface{}{"x-a": "1\r\nx-b: 2"}}, `parameter "headers": header "x-a": value contains a control character`},
		{map[string]interface{}{"headers": map[string]interface{}{"Content-Length": "3"}}, `parameter "headers": header "Content-Length": Envoy frames the body`},
		{map[string]interface{}{"headers": map[string]interface{}{"X-A": "1", "x-a": "2"}}, `given twice`},
		{map[string]interface{}{"headers": map[string]interface{}{"x-a": 1.0}}, `parameter "headers": at [x-a]`},
		{map[string]interface{}{"condition": `request.method ==`}, `parameter "condition"`},
		{map[string]interface{}{"condition": `1 + 1`}, `parameter "condition": when "1 + 1": must be a boolean expression`},
		{map[string]interface{}{"when": "true"}, `parameter "when"`},
	}
	for _, tc := range tests {
		_, err := policytest.Build(t, ".", GetPolicy, tc.params)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%v: error %v, want it to contain %q", tc.params, err, tc.wantErr)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"condition": `request.path == "/m"`, "body": "m"}).(*Policy)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 100 {
				if a := p.ExecuteRequest(request("GET", "/m"), nil); a == nil || string(a.Immediate.Body) != "m" {
					t.Error("condition true, no canned response")
					return
				}
			}
		})
	}
	wg.Wait()
}
