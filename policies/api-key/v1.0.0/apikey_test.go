package apikey

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

func newPolicy(t *testing.T, params map[string]interface{}) *Policy {
	t.Helper()
	return policytest.New(t, ".", GetPolicy, params).(*Policy)
}

func request(headers map[string][]string) *policies.RequestContext {
	return &policies.RequestContext{
		Context: context.Background(),
		Route:   "r1",
		Headers: policies.NewHeaders(headers),
		Method:  "GET",
		Path:    "/",
	}
}

func TestExecuteRequest(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{"keys": []interface{}{"alpha-key", "beta-key"}})
	tests := []struct {
		name     string
		headers  map[string][]string
		wantDeny string // expected body prefix; "" means the request continues
	}{
		{"first key", map[string][]string{"x-api-key": {"alpha-key"}}, ""},
		{"second key", map[string][]string{"x-api-key": {"beta-key"}}, ""},
		{"header name case-insensitive", map[string][]string{"X-API-Key": {"beta-key"}}, ""},
		{"missing header", map[string][]string{"authorization": {"alpha-key"}}, "missing API key"},
		{"empty value", map[string][]string{"x-api-key": {""}}, "missing API key"},
		{"wrong key", map[string][]string{"x-api-key": {"gamma-key"}}, "invalid API key"},
		{"prefix of a key", map[string][]string{"x-api-key": {"alpha"}}, "invalid API key"},
		{"key plus suffix", map[string][]string{"x-api-key": {"alpha-key2"}}, "invalid API key"},
		{"value case matters", map[string][]string{"x-api-key": {"ALPHA-KEY"}}, "invalid API key"},
		{"two values", map[string][]string{"x-api-key": {"alpha-key", "gamma"}}, "invalid API key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			action := p.ExecuteRequest(request(tc.headers), nil)
			if tc.wantDeny == "" {
				if action != nil {
					t.Fatalf("want continue (nil action), got %+v", action)
				}
				return
			}
			if action == nil || action.Immediate == nil {
				t.Fatalf("want 401 immediate response, got %+v", action)
			}
			im := action.Immediate
			if im.Status != 401 {
				t.Errorf("status = %d, want 401", im.Status)
			}
			if !strings.HasPrefix(string(im.Body), tc.wantDeny) {
				t.Errorf("body = %q, want prefix %q", im.Body, tc.wantDeny)
			}
			if got := im.Headers["www-authenticate"]; got != `APIKey header="x-api-key"` {
				t.Errorf("www-authenticate = %q", got)
			}
			if strings.Contains(im.Details, "alpha") || strings.Contains(im.Details, "gamma") {
				t.Errorf("details leak a key: %q", im.Details)
			}
		})
	}
}

func TestCustomHeaderAndRemoval(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{
		"header":       "X-Client-Token",
		"keys":         []string{"s3cret"},
		"removeHeader": true,
	})
	action := p.ExecuteRequest(request(map[string][]string{"x-client-token": {"s3cret"}}), nil)
	if action == nil || action.Immediate != nil {
		t.Fatalf("want continue with header removal, got %+v", action)
	}
	if got := action.Headers.Remove; len(got) != 1 || got[0] != "x-client-token" {
		t.Fatalf("Remove = %v, want [x-client-token]", got)
	}
	// The default header no longer counts.
	action = p.ExecuteRequest(request(map[string][]string{"x-api-key": {"s3cret"}}), nil)
	if action == nil || action.Immediate == nil || action.Immediate.Status != 401 {
		t.Fatalf("key in the default header must be refused, got %+v", action)
	}
	if got := action.Immediate.Headers["www-authenticate"]; got != `APIKey header="x-client-token"` {
		t.Errorf("www-authenticate = %q", got)
	}
}

// TestRejectedParameters builds instances the way the engine does, so each bad
// parameter is refused by policy.yaml's schema or by parseConfig, and the error
// names it either way.
func TestRejectedParameters(t *testing.T) {
	policytest.CheckRejected(t, ".", GetPolicy, []policytest.Rejection{
		{Name: "keys missing", Params: map[string]interface{}{}, WantErr: `parameter "keys": required parameter missing`},
		{Name: "keys null", Params: map[string]interface{}{"keys": nil}, WantErr: `parameter "keys": got null, want array`},
		{Name: "keys empty", Params: map[string]interface{}{"keys": []interface{}{}}, WantErr: `parameter "keys": must hold at least one key`},
		{Name: "keys not array", Params: map[string]interface{}{"keys": "abc"}, WantErr: `parameter "keys": got string, want array`},
		{Name: "key not string", Params: map[string]interface{}{"keys": []interface{}{"a", 7}}, WantErr: `parameter "keys": at /1: got number, want string`},
		{Name: "key empty", Params: map[string]interface{}{"keys": []interface{}{""}}, WantErr: `parameter "keys": item 0 is empty`},
		{Name: "key padded", Params: map[string]interface{}{"keys": []interface{}{" k"}}, WantErr: `parameter "keys": item 0 has leading or trailing whitespace`},
		{Name: "header not string", Params: map[string]interface{}{"keys": []interface{}{"k"}, "header": 3}, WantErr: `parameter "header": got number, want string`},
		{Name: "header empty", Params: map[string]interface{}{"keys": []interface{}{"k"}, "header": ""}, WantErr: `parameter "header": '' does not match pattern`},
		{Name: "header with space", Params: map[string]interface{}{"keys": []interface{}{"k"}, "header": "x api"}, WantErr: `parameter "header": 'x api' does not match pattern`},
		{Name: "pseudo-header", Params: map[string]interface{}{"keys": []interface{}{"k"}, "header": ":path"}, WantErr: `parameter "header": ':path' does not match pattern`},
		{Name: "removeHeader not bool", Params: map[string]interface{}{"keys": []interface{}{"k"}, "removeHeader": "yes"}, WantErr: `parameter "removeHeader": got string, want boolean`},
		{Name: "unknown", Params: map[string]interface{}{"keys": []interface{}{"k"}, "key": "k", "zz": 1}, WantErr: `parameter "key": unknown parameter`},
	})
}

func TestName(t *testing.T) {
	if got := newPolicy(t, map[string]interface{}{"keys": []interface{}{"k"}}).Name(); got != "apiKey" {
		t.Fatalf("Name = %q", got)
	}
}

// TestConcurrentUse runs under -race: one instance serves many requests at once.
func TestConcurrentUse(t *testing.T) {
	p := newPolicy(t, map[string]interface{}{"keys": []interface{}{"good"}})
	policytest.Concurrently(t, 32, 1, func(i int) error {
		key := "good"
		if i%2 == 1 {
			key = "bad"
		}
		action := p.ExecuteRequest(request(map[string][]string{"x-api-key": {key}}), nil)
		if (action == nil) != (key == "good") {
			return errors.New("wrong decision for " + key)
		}
		return nil
	})
}

func BenchmarkExecuteRequest(b *testing.B) {
	keys := make([]interface{}, 16)
	for i := range keys {
		keys[i] = strings.Repeat("k", 30) + string(rune('a'+i))
	}
	p := policytest.New(b, ".", GetPolicy, map[string]interface{}{"keys": keys}).(*Policy)
	ctx := request(map[string][]string{"x-api-key": {keys[15].(string)}})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if p.ExecuteRequest(ctx, nil) != nil {
			b.Fatal("denied")
		}
	}
}
