package jwtvalidation

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/jwtauth/jwtauthtest"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

// The verification itself (algorithms, keys, time claims, JWKS refresh, token location)
// is tested in jwtauth; these tests check that the policy wires it up from policy.yaml,
// and what version 2 adds.

const (
	testIssuer   = "https://idp.example.com/"
	testAudience = "orders-api"
)

// newPolicy creates an instance; the issuer and audience v2 requires are filled in when a
// test does not care about them.
func newPolicy(t *testing.T, params map[string]interface{}) *Policy {
	t.Helper()
	if _, ok := params["issuer"]; !ok {
		params["issuer"] = testIssuer
	}
	if _, ok := params["audience"]; !ok {
		params["audience"] = []interface{}{testAudience}
	}
	return policytest.New(t, ".", GetPolicy, params).(*Policy)
}

// sign signs claims, adding the test issuer and audience unless the claims name their own.
func sign(t *testing.T, kid string, key interface{}, claims jwt.MapClaims) string {
	t.Helper()
	withDefaults := jwt.MapClaims{"iss": testIssuer, "aud": testAudience}
	for k, v := range claims {
		withDefaults[k] = v
	}
	return jwtauthtest.Sign(t, jwt.SigningMethodRS256, kid, key, withDefaults)
}

func execute(p *Policy, headers map[string][]string) (*policies.RequestContext, *policies.RequestPolicyAction) {
	r := jwtauthtest.Request(headers)
	return r, p.ExecuteRequest(r, nil)
}

func expectDenied(t *testing.T, p *Policy, headers map[string][]string, description string) {
	t.Helper()
	_, a := execute(p, headers)
	jwtauthtest.ExpectDenied(t, a, description)
}

func expectAdmitted(t *testing.T, p *Policy, headers map[string][]string) {
	t.Helper()
	r, a := execute(p, headers)
	if a != nil && a.Immediate != nil {
		t.Fatalf("want admitted, got %d %q (%s)", a.Immediate.Status, a.Immediate.Body, a.Immediate.Headers["www-authenticate"])
	}
	if _, ok := r.Shared[SharedClaimsKey].(jwt.MapClaims); !ok {
		t.Fatal("verified claims not shared with later policies")
	}
}

func TestWiring(t *testing.T) {
	valid := map[string]interface{}{"issuer": testIssuer, "audience": []interface{}{testAudience}}
	jwtauthtest.CheckWiring(t, ".", GetPolicy, valid, jwt.MapClaims{"iss": testIssuer, "aud": testAudience}, SharedClaimsKey)
}

// TestRejectedParameters checks each bad parameter is refused, by policy.yaml's schema
// or by parseConfig, with an error that names it. Nothing is fetched: the checks come
// before the JWKS.
func TestRejectedParameters(t *testing.T) {
	valid := map[string]interface{}{"issuer": testIssuer, "audience": []interface{}{testAudience}}
	jwtauthtest.CheckRejectedParams(t, ".", GetPolicy, valid)

	u := "https://idp.example.com/.well-known/jwks.json"
	with := func(kv ...interface{}) map[string]interface{} {
		m := map[string]interface{}{"jwksUrl": u, "issuer": testIssuer, "audience": []interface{}{testAudience}}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	policytest.CheckRejected(t, ".", GetPolicy, []policytest.Rejection{
		{Name: "issuer missing (v1 config)", Params: map[string]interface{}{"jwksUrl": u, "audience": []interface{}{testAudience}}, WantErr: `parameter "issuer": required parameter missing`},
		{Name: "issuer empty", Params: with("issuer", ""), WantErr: `parameter "issuer": minLength: got 0, want 1`},
		{Name: "audience missing (v1 config)", Params: map[string]interface{}{"jwksUrl": u, "issuer": testIssuer}, WantErr: `parameter "audience": required parameter missing`},
		{Name: "audience empty list", Params: with("audience", []interface{}{}), WantErr: `parameter "audience": must hold at least one`},
		{Name: "audience a string", Params: with("audience", testAudience), WantErr: `parameter "audience": got string, want array`},
		{Name: "audience bad item", Params: with("audience", []interface{}{"a", 3}), WantErr: `parameter "audience": at /1: got number, want string`},
		{Name: "audience empty item", Params: with("audience", []interface{}{""}), WantErr: `parameter "audience": item 0 is empty`},
		{Name: "claimHeaders type", Params: with("claimHeaders", []interface{}{"sub"}), WantErr: `parameter "claimHeaders": got array, want object`},
		{Name: "claimHeaders empty header", Params: with("claimHeaders", map[string]interface{}{"sub": ""}), WantErr: `parameter "claimHeaders": claim "sub": claim and header name must be non-empty`},
		{Name: "claimHeaders header not a string", Params: with("claimHeaders", map[string]interface{}{"sub": 1}), WantErr: `parameter "claimHeaders": at [sub]: expected type 'string'`},
		{Name: "claimHeaders bad header", Params: with("claimHeaders", map[string]interface{}{"sub": "x user"}), WantErr: `claim "sub": "x user" is not a valid header name`},
		{Name: "claimHeaders authorization", Params: with("claimHeaders", map[string]interface{}{"sub": "Authorization"}), WantErr: `header "authorization" cannot carry claims`},
		{Name: "claimHeaders token header", Params: with("header", "x-token", "claimHeaders", map[string]interface{}{"sub": "X-Token"}), WantErr: `header "x-token" cannot carry claims`},
		{Name: "claimHeaders envoy", Params: with("claimHeaders", map[string]interface{}{"sub": "x-envoy-user"}), WantErr: "cannot carry claims"},
		{Name: "claimHeaders duplicate", Params: with("claimHeaders", map[string]interface{}{"sub": "x-user", "email": "X-User"}), WantErr: `claims "email" and "sub" both map to header "x-user"`},
		{Name: "removeTokenHeader type", Params: with("removeTokenHeader", "yes"), WantErr: `parameter "removeTokenHeader": got string, want boolean`},
		{Name: "unknown", Params: with("audiences", "x"), WantErr: `parameter "audiences": unknown parameter`},
	})
}
