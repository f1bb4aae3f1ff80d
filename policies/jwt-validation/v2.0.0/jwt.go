// Package jwtvalidation is the jwtValidation policy, version 2: it admits a request only
// with a valid JWT signed by a key from the configured JWKS, issued by the configured
// issuer for one of the configured audiences, and forwards selected claims to the
// upstream as request headers.
package jwtvalidation

import (
	"github.com/golang-jwt/jwt/v5"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
	"github.com/policy-engine-builder/policy-engine/worker/policies/jwtauth"
)

const (
	policyName = "jwtValidation"
	// SharedClaimsKey is where the verified claims (jwt.MapClaims, a
	// map[string]interface{}) are left in the request's Shared map for later policies.
	SharedClaimsKey = "jwtValidation.claims"
)

// Policy is one configured jwtValidation instance. The configuration is immutable and
// the verifier safe for concurrent use, so ExecuteRequest may run on many goroutines at
// once.
type Policy struct {
	policies.Checked
	cfg      *config
	verifier *jwtauth.Verifier
}

var (
	_ policies.RequestPolicy = (*Policy)(nil)
	_ policies.Closer        = (*Policy)(nil)
)

// GetPolicy is the factory the engine calls once per configured instance. It fetches the
// JWKS once (bounded by fetchTimeout) and starts its background refresh.
func GetPolicy(_ policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	cfg, err := parseConfig(params)
	if err != nil {
		return nil, err
	}
	v, err := jwtauth.New(policyName, cfg.Config, jwt.WithIssuer(cfg.issuer), jwt.WithAudience(cfg.audiences...))
	if err != nil {
		return nil, err
	}
	return &Policy{Checked: policyName, cfg: cfg, verifier: v}, nil
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
	return p.forward(claims)
}

// forward builds the header changes for an admitted request: each configured claim
// header is set from the token, or removed when the token lacks the claim, so a client
// can never supply its own value for a header the upstream trusts.
func (p *Policy) forward(claims jwt.MapClaims) *policies.RequestPolicyAction {
	if len(p.cfg.claimHeaders) == 0 && !p.cfg.removeTokenHeader {
		return nil
	}
	var changes policies.HeaderChanges
	for _, ch := range p.cfg.claimHeaders {
		if v, ok := claimValue(claims, ch.claim); ok {
			if changes.Set == nil {
				changes.Set = make(map[string]string, len(p.cfg.claimHeaders))
			}
			changes.Set[ch.header] = v
		} else {
			changes.Remove = append(changes.Remove, ch.header)
		}
	}
	if p.cfg.removeTokenHeader {
		changes.Remove = append(changes.Remove, p.cfg.Header)
	}
	return &policies.RequestPolicyAction{Headers: changes}
}
