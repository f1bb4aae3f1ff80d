// Package jwtvalidation is the jwtValidation policy, version 1: it admits a request only
// with a valid JWT signed by a key from the configured JWKS.
package jwtvalidation

import (
	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/jwtauth"
)

const (
	policyName = "jwtValidation"
	// SharedClaimsKey is where the verified claims (jwt.MapClaims, a
	// map[string]interface{}) are left in the request's Shared map for later policies.
	SharedClaimsKey = "jwtValidation.claims"
)

// Policy is one configured jwtValidation instance; ExecuteRequest may run on many
// goroutines at once, as the verifier may.
type Policy struct {
	policies.Checked
	verifier *jwtauth.Verifier
}

var (
	_ policies.RequestPolicy = (*Policy)(nil)
	_ policies.Closer        = (*Policy)(nil)
)

// GetPolicy is the factory the engine calls once per configured instance. It fetches the
// JWKS once (bounded by fetchTimeout) and starts its background refresh.
func GetPolicy(_ policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	var p jwtauth.Params
	if err := policies.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	cfg, err := jwtauth.ParseParams(p)
	if err != nil {
		return nil, err
	}
	v, err := jwtauth.New(policyName, cfg)
	if err != nil {
		return nil, err
	}
	return &Policy{Checked: policyName, verifier: v}, nil
}

// Close stops the background JWKS refresh.
func (p *Policy) Close() error { return p.verifier.Close() }

// ExecuteRequest admits the request when it carries a valid token.
func (p *Policy) ExecuteRequest(ctx *policies.RequestContext, _ map[string]interface{}) *policies.RequestPolicyAction {
	claims, deny := p.verifier.Verify(ctx)
	if deny != nil {
		return deny
	}
	if ctx.Shared != nil {
		ctx.Shared[SharedClaimsKey] = claims
	}
	return nil
}
