package transformheaders

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

func TestPolicyYAMLMatchesCode(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"request": map[string]interface{}{"remove": []interface{}{"x-a"}}})
	policytest.CheckSpec(t, ".", p, params{})
}

// claims stands in for jwt.MapClaims: a named map type, as jwtValidation leaves it.
type claims map[string]interface{}

func request() *policies.RequestContext {
	return &policies.RequestContext{
		Context: context.Background(),
		Route:   "api",
		Method:  "POST",
		Path:    "/orders?x=1",
		Headers: policies.NewHeaders(map[string][]string{
			"x-old":       {"1", "2"},
			"x-tenant":    {"forged"},
			"user-agent":  {"curl"},
			"x-injection": {"a\r\nb"},
		}),
		ClientAddress: "[2001:db8::7]:5555",
		Shared: map[string]interface{}{
			"jwtValidation.claims": claims{"sub": "alice", "aud": []interface{}{"a", "b"}, "n": 12.0, "deep": map[string]interface{}{}},
			"plain":                "v",
		},
	}
}

func newPolicy(t *testing.T, params map[string]interface{}) *Policy {
	t.Helper()
	return policytest.New(t, ".", GetPolicy, params).(*Policy)
}

func TestRequestChanges(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{"request": map[string]interface{}{
		"set": map[string]interface{}{
			"X-Subject":   "${shared:jwtValidation.claims:sub}",
			"x-audience":  "${shared:jwtValidation.claims:aud}",
			"x-number":    "n=${shared:jwtValidation.claims:n}",
			"x-tenant":    "${shared:jwtValidation.claims:tenant}", // absent: removed, never the client's
			"x-caller":    "${method} ${path} via ${route} from ${client_ip} (${client_address}) ua=${header:User-Agent} $$5",
			"x-plain":     "${shared:plain}",
			"x-nested":    "${shared:jwtValidation.claims:deep}",
			"x-injected":  "${header:x-injection}",
			"x-no-status": "[${status}]",
		},
		"add":    map[string]interface{}{"x-trace": "t-${shared:plain}", "x-empty": "${header:absent}"},
		"remove": []interface{}{"X-Debug"},
		"rename": map[string]interface{}{"x-old": "x-new", "x-absent": "x-other"},
	}})
	if !p.SkipResponsePhase() {
		t.Error("no response changes, yet the response phase is asked for")
	}
	a := p.ExecuteRequest(request(), nil)
	wantSet := map[string]string{
		"x-subject":   "alice",
		"x-audience":  "a,b",
		"x-number":    "n=12",
		"x-caller":    "POST /orders?x=1 via api from 2001:db8::7 ([2001:db8::7]:5555) ua=curl $5",
		"x-plain":     "v",
		"x-no-status": "[]",
		"x-new":       "1",
	}
	if !reflect.DeepEqual(a.Headers.Set, wantSet) {
		t.Errorf("set %v,\nwant %v", a.Headers.Set, wantSet)
	}
	if !reflect.DeepEqual(a.Headers.Append, map[string][]string{"x-trace": {"t-v"}, "x-new": {"2"}}) {
		t.Errorf("append %v", a.Headers.Append)
	}
	remove := slices.Sorted(slices.Values(a.Headers.Remove))
	if want := []string{"x-debug", "x-injected", "x-nested", "x-old", "x-tenant"}; !slices.Equal(remove, want) {
		t.Errorf("remove %v, want %v", remove, want)
	}
}

func TestResponseChanges(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{"response": map[string]interface{}{
		"set":    map[string]interface{}{"x-upstream-status": "${status}", "x-for": "${shared:jwtValidation.claims:sub}"},
		"remove": []interface{}{"server"},
		"rename": map[string]interface{}{"x-internal-id": "x-request-id"},
	}})
	if p.SkipResponsePhase() {
		t.Error("response changes configured, yet the response phase is skipped")
	}
	req := request()
	if a := p.ExecuteRequest(req, nil); a != nil {
		t.Errorf("no request changes, got %+v", a)
	}
	resp := &policies.ResponseContext{Context: context.Background(), Request: req, Status: 201, Shared: req.Shared,
		Headers: policies.NewHeaders(map[string][]string{"server": {"x"}, "x-internal-id": {"42"}})}
	a := p.ExecuteResponse(resp, nil)
	want := map[string]string{"x-upstream-status": "201", "x-for": "alice", "x-request-id": "42"}
	if !reflect.DeepEqual(a.Headers.Set, want) || !slices.Equal(a.Headers.Remove, []string{"server", "x-internal-id"}) {
		t.Errorf("got %+v", a.Headers)
	}
}

func TestRejectedParameters(t *testing.T) {
	req := func(c map[string]interface{}) map[string]interface{} { return map[string]interface{}{"request": c} }
	set := func(name, value string) map[string]interface{} {
		return req(map[string]interface{}{"set": map[string]interface{}{name: value}})
	}
	policytest.CheckRejected(t, ".", GetPolicy, []policytest.Rejection{
		{Params: map[string]interface{}{}, WantErr: `parameters "request" and "response": no header change configured`},
		{Params: req(map[string]interface{}{"append": map[string]interface{}{"x": "y"}}), WantErr: `parameter "request": at append: unknown field`},
		{Params: req(map[string]interface{}{"remove": "x-a"}), WantErr: `parameter "request"`},
		{Params: map[string]interface{}{"response": map[string]interface{}{"set": map[string]interface{}{"x": 1.0}}}, WantErr: `parameter "response": at set[x]`},
		{Params: set("host", "x"), WantErr: `parameter "request": set: header "host": cannot be changed`},
		{Params: set(":path", "/"), WantErr: `pseudo-headers`},
		{Params: set("x-envoy-upstream", "x"), WantErr: `x-envoy-*`},
		{Params: set("bad name", "x"), WantErr: `header "bad name": not a valid header name`},
		{Params: set("x-a", "a\r\nb"), WantErr: `header "x-a": value contains a control character`},
		{Params: set("x-a", "${nope}"), WantErr: `unknown variable ${nope}`},
		{Params: set("x-a", "${method:x}"), WantErr: `${method:x} takes no argument`},
		{Params: set("x-a", "${header:}"), WantErr: `want ${header:NAME}`},
		{Params: set("x-a", "${shared:}"), WantErr: `want ${shared:KEY}`},
		{Params: set("x-a", "${method"), WantErr: `without a closing }`},
		{Params: set("x-a", "cost $5"), WantErr: `a lone $`},
		{Params: req(map[string]interface{}{"set": map[string]interface{}{"X-A": "1"}, "remove": []interface{}{"x-a"}}), WantErr: `header "x-a" appears in both set and remove`},
		{Params: req(map[string]interface{}{"rename": map[string]interface{}{"x-a": "x-b"}, "add": map[string]interface{}{"x-b": "1"}}), WantErr: `header "x-b" appears in both add and rename`},
		{Params: req(map[string]interface{}{"rename": map[string]interface{}{"x-a": "content-length"}}), WantErr: `rename: header "content-length": cannot be changed`},
		{Params: map[string]interface{}{"request": map[string]interface{}{}, "headers": map[string]interface{}{}}, WantErr: `parameter "headers"`},
	})
}

func TestConcurrentUse(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{"request": map[string]interface{}{
		"set": map[string]interface{}{"x-who": "${shared:plain}"}, "remove": []interface{}{"x-a"},
	}})
	policytest.Concurrently(t, 16, 100, func(int) error {
		a := p.ExecuteRequest(request(), nil)
		a.Headers.Set["x-who"] = "mutated by the engine"
		a.Headers.Remove[0] = "mutated"
		return nil
	})
	if a := p.ExecuteRequest(request(), nil); a.Headers.Set["x-who"] != "v" || a.Headers.Remove[0] != "x-a" {
		t.Errorf("configuration changed by callers: %+v", a.Headers)
	}
}
