package jwtvalidation

import (
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies/jwtauth/jwtauthtest"
	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

// TestPolicyYAMLMatchesCode keeps policy.yaml and the code from drifting apart. The
// instance is built the way the engine builds it (parameters checked against the
// file's schema, declared defaults filled in), so the code is shown to accept every
// default; CheckSpec then compares name, version, the params struct and phases.
func TestPolicyYAMLMatchesCode(t *testing.T) {
	k := jwtauthtest.TestKeys()
	srv := jwtauthtest.NewServer(t, jwtauthtest.ECJWK("ec-a", &k.EC.PublicKey))
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{
		"jwksUrl": srv.URL, "issuer": testIssuer, "audience": []interface{}{testAudience},
	})
	policytest.CheckSpec(t, ".", p, params{})
}
