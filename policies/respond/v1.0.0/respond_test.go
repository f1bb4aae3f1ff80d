package respond

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

func TestPolicyYAMLMatchesCode(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{})
	policytest.CheckSpec(t, ".", p, params{})
}

func request(method, path string, headers ...string) *policies.RequestContext {
	return &policies.RequestContext{Context: context.Background(), Route: "r", Method: method, Path: path, Headers: policytest.Headers(headers...)}
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
	policytest.CheckRejected(t, ".", GetPolicy, []policytest.Rejection{
		{Params: map[string]interface{}{"status": 99.0}, WantErr: `parameter "status"`},
		{Params: map[string]interface{}{"status": 600.0}, WantErr: `parameter "status"`},
		{Params: map[string]interface{}{"status": 204.0, "body": "x"}, WantErr: `parameter "body": status 204 has no body`},
		{Params: map[string]interface{}{"headers": map[string]interface{}{"bad name": "x"}}, WantErr: `parameter "headers": header "bad name": not a valid header name`},
		{Params: map[string]interface{}{"headers": map[string]interface{}{"x-a": "1\r\nx-b: 2"}}, WantErr: `parameter "headers": header "x-a": value contains a control character`},
		{Params: map[string]interface{}{"headers": map[string]interface{}{"Content-Length": "3"}}, WantErr: `parameter "headers": header "Content-Length": Envoy frames the body`},
		{Params: map[string]interface{}{"headers": map[string]interface{}{"X-A": "1", "x-a": "2"}}, WantErr: `given twice`},
		{Params: map[string]interface{}{"headers": map[string]interface{}{"x-a": 1.0}}, WantErr: `parameter "headers": at [x-a]`},
		{Params: map[string]interface{}{"condition": `request.method ==`}, WantErr: `parameter "condition"`},
		{Params: map[string]interface{}{"condition": `1 + 1`}, WantErr: `parameter "condition": when "1 + 1": must be a boolean expression`},
		{Params: map[string]interface{}{"when": "true"}, WantErr: `parameter "when"`},
	})
}

func TestConcurrentUse(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"condition": `request.path == "/m"`, "body": "m"}).(*Policy)
	policytest.Concurrently(t, 16, 100, func(int) error {
		if a := p.ExecuteRequest(request("GET", "/m"), nil); a == nil || string(a.Immediate.Body) != "m" {
			return errors.New("condition true, no canned response")
		}
		return nil
	})
}
