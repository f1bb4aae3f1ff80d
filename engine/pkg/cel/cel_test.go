package cel

import (
	"strings"
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

func TestConditions(t *testing.T) {
	reqHeaders := policies.NewHeaders(map[string][]string{"X-Tenant": {"a", "b"}})
	req := RequestVars("orders", "POST", "/orders/1", reqHeaders)
	resp := ResponseVars(req, 503, policies.NewHeaders(map[string][]string{"content-type": {"text/plain"}}))
	cases := []struct {
		expr string
		vars map[string]any
		want bool
	}{
		{`request.headers["x-tenant"] == "a"`, req, true},
		{`request.headers["x-tenant"] == "b"`, req, false},
		{`"x-missing" in request.headers`, req, false},
		{`request.method == "POST" && request.path.startsWith("/orders")`, req, true},
		{`request.route == "orders"`, req, true},
		{`response.status >= 500`, resp, true},
		{`response.headers["content-type"].startsWith("text/")`, resp, true},
		{`request.method == "GET"`, resp, false},
	}
	for _, tc := range cases {
		c, err := Compile(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		got, err := c.Eval(tc.vars)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if got != tc.want {
			t.Errorf("%s = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func TestCompileRejects(t *testing.T) {
	for _, expr := range []string{`request.method ==`, `1 + 2`, `size(request.path)`, `unknown.var == 1`} {
		if _, err := Compile(expr); err == nil {
			t.Errorf("%s compiled", expr)
		} else if !strings.Contains(err.Error(), expr) {
			t.Errorf("error %q does not quote the expression", err)
		}
	}
}

func TestResponseDuringRequestPhase(t *testing.T) {
	c, err := Compile(`response.status >= 500 || size(response.headers) > 0`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Eval(RequestVars("r", "GET", "/", policies.NewHeaders(nil)))
	if err != nil || got {
		t.Errorf("got %v, %v; want false without error", got, err)
	}
}

func TestEvalErrorsAreReported(t *testing.T) {
	c, err := Compile(`request.headers["x-missing"] == "a"`)
	if err != nil {
		t.Fatal(err)
	}
	req := RequestVars("r", "GET", "/", policies.NewHeaders(nil))
	if _, err := c.Eval(req); err == nil || !strings.Contains(err.Error(), "x-missing") {
		t.Errorf("reading a missing header did not fail clearly: %v", err)
	}
}
