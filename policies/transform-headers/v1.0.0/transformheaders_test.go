package transformheaders

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
	tests := []struct {
		params  map[string]interface{}
		wantErr string
	}{
		{map[string]interface{}{}, `parameters "request" and "response": no header change configured`},
		{req(map[string]interface{}{"append": map[string]interface{}{"x": "y"}}), `parameter "request": at append: unknown field`},
		{req(map[string]interface{}{"remove": "x-a"}), `parameter "request"`},
		{map[string]interface{}{"response": map[string]interface{}{"set": map[string]interface{}{"x": 1.0}}}, `parameter "response": at set[x]`},
		{set("host", "x"), `parameter "request": set: header "host": cannot be changed`},
		{set(":path", "/"), `pseudo-headers`},
		{set("x-envoy-upstream", "x"), `x-envoy-*`},
		{set("bad name", "x"), `header "bad name": not a valid header name`},
		{set("x-a", "a\r\nb"), `header "x-a": value contains a control character`},
		{set("x-a", "${nope}"), `unknown variable ${nope}`},
		{set("x-a", "${method:x}"), `${method:x} takes no argument`},
		{set("x-a", "${header:}"), `want ${header:NAME}`},
		{set("x-a", "${shared:}"), `want ${shared:KEY}`},
		{set("x-a", "${method"), `without a closing }`},
		{set("x-a", "cost $5"), `a lone $`},
		{req(map[string]interface{}{"set": map[string]interface{}{"X-A": "1"}, "remove": []interface{}{"x-a"}}), `header "x-a" appears in both set and remove`},
		{req(map[string]interface{}{"rename": map[string]interface{}{"x-a": "x-b"}, "add": map[string]interface{}{"x-b": "1"}}), `header "x-b" appears in both add and rename`},
		{req(map[string]interface{}{"rename": map[string]interface{}{"x-a": "content-length"}}), `rename: header "content-length": cannot be changed`},
		{map[string]interface{}{"request": map[string]interface{}{}, "headers": map[string]interface{}{}}, `parameter "headers"`},
	}
	for _, tc := range tests {
		_, err := policytest.Build(t, ".", GetPolicy, tc.params)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%v: error %v, want it to contain %q", tc.params, err, tc.wantErr)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{"request": map[string]interface{}{
		"set": map[string]interface{}{"x-who": "${shared:plain}"}, "remove": []interface{}{"x-a"},
	}})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 100 {
				a := p.ExecuteRequest(request(), nil)
				a.Headers.Set["x-who"] = "mutated by the engine"
				a.Headers.Remove[0] = "mutated"
			}
		})
	}
	wg.Wait()
	if a := p.ExecuteRequest(request(), nil); a.Headers.Set["x-who"] != "v" || a.Headers.Remove[0] != "x-a" {
		t.Errorf("configuration changed by callers: %+v", a.Headers)
	}
}
