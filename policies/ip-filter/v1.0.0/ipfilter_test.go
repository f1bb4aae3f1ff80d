package ipfilter

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

func TestPolicyYAMLMatchesCode(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"allow": []interface{}{"10.0.0.0/8"}})
	policytest.CheckSpec(t, ".", p, params{})
}

func request(client string, xff ...string) *policies.RequestContext {
	h := map[string][]string{}
	if len(xff) > 0 {
		h["x-forwarded-for"] = xff
	}
	return &policies.RequestContext{Context: context.Background(), ClientAddress: client, Headers: policies.NewHeaders(h)}
}

func TestAllowAndDeny(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{
		"allow": policytest.List("10.0.0.0/8", "2001:db8::/32", "192.0.2.7"),
		"deny":  policytest.List("10.9.0.0/16"),
	}).(*Policy)
	tests := []struct {
		client string
		admit  bool
	}{
		{"10.1.2.3:5555", true},
		{"10.9.1.1:5555", false},      // deny wins over allow
		{"192.0.2.7:1", true},         // a single address
		{"192.0.2.8:1", false},        // not listed
		{"[2001:db8::1]:443", true},   // IPv6
		{"[::ffff:10.1.2.3]:1", true}, // IPv4-mapped peers compare as IPv4
		{"[fe80::1%eth0]:1", false},   // zone ignored, not listed
		{"", false},                   // no source.address: fail closed
		{"not-an-address", false},     // malformed: fail closed
		{"[2001:db9::1]:443", false},
	}
	for _, tc := range tests {
		a := p.ExecuteRequest(request(tc.client), nil)
		if got := a == nil; got != tc.admit {
			t.Errorf("%q: admitted %v, want %v (%+v)", tc.client, got, tc.admit, a)
		}
		if a != nil && (a.Immediate == nil || a.Immediate.Status != 403 || tc.client != "" && strings.Contains(string(a.Immediate.Body), tc.client)) {
			t.Errorf("%q: want a 403 that does not echo the address, got %+v", tc.client, a.Immediate)
		}
	}
}

func TestDenyOnly(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"deny": policytest.List("203.0.113.0/24")}).(*Policy)
	if p.ExecuteRequest(request("198.51.100.1:1"), nil) != nil {
		t.Error("an address not denied must pass when allow is empty")
	}
	if p.ExecuteRequest(request("203.0.113.9:1"), nil) == nil {
		t.Error("denied address passed")
	}
}

func TestForwardedForIsIgnoredUnlessThePeerIsTrusted(t *testing.T) {
	open := policytest.New(t, ".", GetPolicy, map[string]interface{}{"allow": policytest.List("203.0.113.0/24")}).(*Policy)
	if open.ExecuteRequest(request("198.51.100.1:1", "203.0.113.5"), nil) == nil {
		t.Error("without trustedProxies a forged X-Forwarded-For admitted the request")
	}
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{
		"allow":          policytest.List("203.0.113.0/24"),
		"trustedProxies": policytest.List("10.0.0.0/8"),
	}).(*Policy)
	tests := []struct {
		name   string
		client string
		xff    []string
		admit  bool
	}{
		{"peer trusted, client allowed", "10.0.0.1:1", []string{"203.0.113.5"}, true},
		{"peer trusted, client not allowed", "10.0.0.1:1", []string{"198.51.100.1"}, false},
		{"peer not trusted: header ignored", "198.51.100.1:1", []string{"203.0.113.5"}, false},
		{"two trusted hops", "10.0.0.1:1", []string{"203.0.113.5, 10.0.0.2"}, true},
		{"forged entry left of the client is not read", "10.0.0.1:1", []string{"203.0.113.5, 198.51.100.1"}, false},
		{"client spoofs an allowed address on the left", "10.0.0.1:1", []string{"203.0.113.5", "198.51.100.1"}, false},
		{"several header lines, right one last", "10.0.0.1:1", []string{"198.51.100.1", "203.0.113.5"}, true},
		{"malformed entry", "10.0.0.1:1", []string{"junk"}, false},
		{"only trusted proxies: the proxy is the client", "10.0.0.1:1", []string{"10.0.0.2"}, false},
		{"no header: the proxy is the client", "10.0.0.1:1", nil, false},
	}
	for _, tc := range tests {
		if got := p.ExecuteRequest(request(tc.client, tc.xff...), nil) == nil; got != tc.admit {
			t.Errorf("%s: admitted %v, want %v", tc.name, got, tc.admit)
		}
	}
}

func TestRejectedParameters(t *testing.T) {
	policytest.CheckRejected(t, ".", GetPolicy, []policytest.Rejection{
		{Params: map[string]interface{}{}, WantErr: `parameters "allow" and "deny": at least one`},
		{Params: map[string]interface{}{"allow": policytest.List("10.0.0.0/33")}, WantErr: `parameter "allow": item 0 "10.0.0.0/33"`},
		{Params: map[string]interface{}{"deny": policytest.List("10.0.0.1/8")}, WantErr: `parameter "deny": item 0 "10.0.0.1/8" has host bits set; did you mean 10.0.0.0/8?`},
		{Params: map[string]interface{}{"allow": policytest.List("10.0.0.0/8", "example.com")}, WantErr: `parameter "allow": item 1 "example.com": not a CIDR or an address`},
		{Params: map[string]interface{}{"allow": policytest.List("::ffff:10.0.0.1")}, WantErr: `parameter "allow": item 0 "::ffff:10.0.0.1": write IPv4-mapped addresses in IPv4 form`},
		{Params: map[string]interface{}{"allow": policytest.List("10.0.0.0/8"), "trustedProxies": policytest.List("fe80::1%eth0")}, WantErr: `parameter "trustedProxies": item 0 "fe80::1%eth0": zones are not allowed`},
		{Params: map[string]interface{}{"allow": policytest.List("")}, WantErr: `parameter "allow": at /0: minLength: got 0, want 1`},
		{Params: map[string]interface{}{"allow": "10.0.0.0/8"}, WantErr: `parameter "allow"`},
		{Params: map[string]interface{}{"allow": policytest.List("10.0.0.0/8"), "trustHops": 1.0}, WantErr: `parameter "trustHops"`},
	})
}

func TestConcurrentUse(t *testing.T) {
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{
		"allow": policytest.List("203.0.113.0/24"), "trustedProxies": policytest.List("10.0.0.0/8"),
	}).(*Policy)
	policytest.Concurrently(t, 16, 100, func(int) error {
		if p.ExecuteRequest(request("10.0.0.1:1", "203.0.113.5"), nil) != nil {
			return errors.New("refused an allowed client")
		}
		return nil
	})
}
