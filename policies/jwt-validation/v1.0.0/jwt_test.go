package jwtvalidation

import (
	"testing"

	"github.com/policy-engine-builder/policy-engine/worker/policies/jwtauth/jwtauthtest"
)

// The verification itself (algorithms, keys, time claims, JWKS refresh, token location)
// is tested in jwtauth; these tests check that the policy wires it up from policy.yaml.

func TestWiring(t *testing.T) {
	jwtauthtest.CheckWiring(t, ".", GetPolicy, nil, nil, SharedClaimsKey)
}

func TestRejectedParameters(t *testing.T) {
	jwtauthtest.CheckRejectedParams(t, ".", GetPolicy, nil)
}
