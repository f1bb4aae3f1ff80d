package jwtvalidation

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/policy-engine-builder/policy-engine/worker/policies/jwtauth/jwtauthtest"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

// The verification itself (algorithms, keys, time claims, JWKS refresh, token location)
// is tested in jwtauth; these tests check that the policy wires it up from policy.yaml.

func newPolicy(t *testing.T, params map[string]interface{}) *Policy {
	t.Helper()
	return policytest.New(t, ".", GetPolicy, params).(*Policy)
}

func TestAdmitsAndSharesClaims(t *testing.T) {
	k := jwtauthtest.TestKeys()
	srv := jwtauthtest.NewServer(t, jwtauthtest.RSAJWK("a", &k.RSAA.PublicKey, "RS256"))
	p := newPolicy(t, map[string]interface{}{"jwksUrl": srv.URL})

	r := jwtauthtest.Request(jwtauthtest.Bearer(jwtauthtest.Sign(t, jwt.SigningMethodRS256, "a", k.RSAA, jwtauthtest.ValidClaims())))
	if a := p.ExecuteRequest(r, nil); a != nil {
		t.Fatalf("want admitted, got %+v", a.Immediate)
	}
	if claims, ok := r.Shared[SharedClaimsKey].(jwt.MapClaims); !ok || claims["sub"] != "user-1" {
		t.Fatalf("verified claims not shared with later policies: %v", r.Shared)
	}
	// requireExpiration defaults to true.
	noExp := jwtauthtest.Sign(t, jwt.SigningMethodRS256, "a", k.RSAA, jwt.MapClaims{"sub": "no-exp"})
	a := p.ExecuteRequest(jwtauthtest.Request(jwtauthtest.Bearer(noExp)), nil)
	jwtauthtest.ExpectDenied(t, a, "required claim missing")
	if want := "jwtValidation: required claim missing"; a.Immediate.Details != want {
		t.Fatalf("details = %q, want %q", a.Immediate.Details, want)
	}
}

func TestParametersReachTheVerifier(t *testing.T) {
	k := jwtauthtest.TestKeys()
	srv := jwtauthtest.NewServer(t, jwtauthtest.RSAJWK("a", &k.RSAA.PublicKey, "RS256"))
	tok := jwtauthtest.Sign(t, jwt.SigningMethodRS256, "a", k.RSAA, jwtauthtest.ValidClaims())

	p := newPolicy(t, map[string]interface{}{"jwksUrl": srv.URL, "header": "X-Token", "realm": "api", "allowedAlgorithms": []interface{}{"ES256"}})
	a := p.ExecuteRequest(jwtauthtest.Request(jwtauthtest.Bearer(tok)), nil)
	if a == nil || a.Immediate.Headers["www-authenticate"] != `Bearer realm="api"` {
		t.Fatalf("token in authorization, policy reading x-token: want a challenge without error, got %+v", a)
	}
	a = p.ExecuteRequest(jwtauthtest.Request(map[string][]string{"x-token": {tok}}), nil)
	if a == nil || a.Immediate.Headers["www-authenticate"] != `Bearer realm="api", error="invalid_token", error_description="invalid signature or algorithm"` {
		t.Fatalf("RS256 token with only ES256 allowed: %+v", a)
	}
}

func TestRejectedParameters(t *testing.T) {
	jwtauthtest.CheckRejectedParams(t, ".", GetPolicy, nil)
}
