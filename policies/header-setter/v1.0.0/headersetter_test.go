package headersetter

import (
	"context"
	"reflect"
	"strings"
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
	tests := []struct {
		name    string
		params  map[string]interface{}
		wantErr string
	}{
		{"missing", map[string]interface{}{}, `parameter "headers": required parameter missing`},
		{"wrong type", map[string]interface{}{"headers": []interface{}{"x"}}, `parameter "headers": got array, want object`},
		{"empty", h(), `parameter "headers": must set at least one header`},
		{"unknown param", map[string]interface{}{"headers": map[string]interface{}{"a": "b"}, "header": 1}, `parameter "header": unknown parameter`},
		{"number value", h("x-a", 1), `parameter "headers": at [x-a]: expected type 'string', got unconvertible type 'float64'`},
		{"bool value", h("x-a", true), `parameter "headers": at [x-a]: expected type 'string', got unconvertible type 'bool'`},
		{"CRLF injection", h("x-a", "v\r\nx-admin: 1"), `header "x-a": value contains control character`},
		{"padded value", h("x-a", " v"), "leading or trailing whitespace"},
		{"empty name", h("", "v"), "name must not be empty"},
		{"bad name", h("x a", "v"), `header "x a": not a valid header name`},
		{"pseudo", h(":path", "/admin"), "pseudo-headers cannot be changed"},
		{"host", h("Host", "evil"), `header "Host": cannot be changed`},
		{"envoy internal", h("x-envoy-original-path", "/"), "x-envoy-* headers"},
		{"framing", h("content-length", "0"), "body framing"},
		{"duplicate", h("X-A", "1", "x-a", "2"), "given twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policytest.Build(t, ".", GetPolicy, tc.params)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
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
	done := make(chan struct{})
	for i := 0; i < 16; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			a := p.ExecuteRequest(request(), nil)
			a.Headers.Set["x-a"] = "mutated by the engine"
		}()
	}
	for i := 0; i < 16; i++ {
		<-done
	}
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
