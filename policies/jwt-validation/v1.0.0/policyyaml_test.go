package jwtvalidation

import (
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies/policytest"
)

// TestPolicyYAMLMatchesCode keeps policy.yaml and the code from drifting apart. The
// instance is built the way the engine builds it (parameters checked against the
// file's schema, declared defaults filled in), so the code is shown to accept every
// default; CheckSpec then compares name, version, the params struct and phases.
func TestPolicyYAMLMatchesCode(t *testing.T) {
	testKeys(t)
	srv := newJWKSServer(t, ecJWK("ec-a", &ecA.PublicKey))
	p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"jwksUrl": srv.URL})
	policytest.CheckSpec(t, ".", p, params{})
}
