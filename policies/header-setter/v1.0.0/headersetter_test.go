package headersetter

import (
	"context"
	"reflect"
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

func request() *policies.RequestContext {
	return &policies.RequestContext{
		Context: context.Background(),
		Headers: policies.NewHeaders(map[string][]string{"x-team": {"from-client"}}),
	}
}

func TestSetsHeaders(t *testing.T) {
	params := map[string]interface{}{"headers": map[string]interface{}{
		"X-Team":    "platform",
		"x-version": "2",
	}}
	p := policytest.New(t, ".", GetPolicy, params).(*Policy)
	action := p.ExecuteRequest(request(), params)
	if action == nil || action.Immediate != nil {
		t.Fatalf("want a continue action, got %+v", action)
	}
	want := map[string]string{"x-team": "platform", "x-version": "2"}
	if !reflect.DeepEqual(action.Headers.Set, want) {
		t.Fatalf("Set = %v, want %v", action.Headers.Set, want)
	}
	if len(action.Headers.Append) != 0 || len(action.Headers.Remove) != 0 {
		t.Fatalf("unexpected changes: %+v", action.Headers)
	}

	// A caller modifying one action must not affect the next.
	action.Headers.Set["x-team"] = "tampered"
	again := p.ExecuteRequest(request(), params)
	if again.Headers.Set["x-team"] != "platform" {
		t.Fatalf("actions share state: %v", again.Headers.Set)
	}
	if p.Name() != "setHeaders" {
		t.Fatalf("Name = %q", p.Name())
	}
}

// TestRejectedParameters builds instances the way the engine does, so each bad
// parameter is refused by policy.yaml's schema or by parseHeaders, and the error
// names it either way.
func TestRejectedParameters(t *testing.T) {
	h := func(kv ...interface{}) map[string]interface{} {
		m := map[string]interface{}{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return map[string]interface{}{"headers": m}
	}
	policytest.CheckRejected(t, ".", GetPolicy, []policytest.Rejection{
		{Name: "missing", Params: map[string]interface{}{}, WantErr: `parameter "headers": required parameter missing`},
		{Name: "wrong type", Params: map[string]interface{}{"headers": []interface{}{"x"}}, WantErr: `parameter "headers": got array, want object`},
		{Name: "empty", Params: h(), WantErr: `parameter "headers": must set at least one header`},
		{Name: "unknown param", Params: map[string]interface{}{"headers": map[string]interface{}{"a": "b"}, "header": 1}, WantErr: `parameter "header": unknown parameter`},
		{Name: "number value", Params: h("x-a", 1), WantErr: `parameter "headers": at [x-a]: expected type 'string', got unconvertible type 'float64'`},
		{Name: "bool value", Params: h("x-a", true), WantErr: `parameter "headers": at [x-a]: expected type 'string', got unconvertible type 'bool'`},
		{Name: "CRLF injection", Params: h("x-a", "v\r\nx-admin: 1"), WantErr: `header "x-a": value contains control character`},
		{Name: "padded value", Params: h("x-a", " v"), WantErr: "leading or trailing whitespace"},
		{Name: "empty name", Params: h("", "v"), WantErr: "name must not be empty"},
		{Name: "bad name", Params: h("x a", "v"), WantErr: `header "x a": not a valid header name`},
		{Name: "pseudo", Params: h(":path", "/admin"), WantErr: "pseudo-headers cannot be changed"},
		{Name: "host", Params: h("Host", "evil"), WantErr: `header "Host": cannot be changed`},
		{Name: "envoy internal", Params: h("x-envoy-original-path", "/"), WantErr: "x-envoy-* headers"},
		{Name: "framing", Params: h("content-length", "0"), WantErr: "body framing"},
		{Name: "duplicate", Params: h("X-A", "1", "x-a", "2"), WantErr: "given twice"},
	})
}

func TestAllowsEmptyValueAndTab(t *testing.T) {
	// An empty value is legal HTTP and a deliberate way to blank a header.
	policytest.New(t, ".", GetPolicy, h1("x-a", ""))
	policytest.New(t, ".", GetPolicy, h1("x-a", "a\tb"))
}

func h1(name, value string) map[string]interface{} {
	return map[string]interface{}{"headers": map[string]interface{}{name: value}}
}

func TestConcurrentUse(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, h1("x-a", "b")).(*Policy)
	policytest.Concurrently(t, 16, 1, func(int) error {
		a := p.ExecuteRequest(request(), nil)
		a.Headers.Set["x-a"] = "mutated by the engine"
		return nil
	})
	if got := p.ExecuteRequest(request(), nil).Headers.Set["x-a"]; got != "b" {
		t.Fatalf("configured value changed to %q", got)
	}
}

func BenchmarkExecuteRequest(b *testing.B) {
	p := policytest.New(b, ".", GetPolicy, map[string]interface{}{"headers": map[string]interface{}{"x-a": "1", "x-b": "2", "x-c": "3"}}).(*Policy)
	ctx := request()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if p.ExecuteRequest(ctx, nil) == nil {
			b.Fatal("nil action")
		}
	}
}
