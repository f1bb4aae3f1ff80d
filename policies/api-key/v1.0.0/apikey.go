// Package apikey is the apiKey policy: it admits a request only when a header carries
// one of the configured API keys, and answers 401 otherwise.
package apikey

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

const policyName = "apiKey"

// Policy is one configured apiKey instance. It is immutable after GetPolicy, so the
// engine may call ExecuteRequest from many goroutines at once.
type Policy struct {
	policies.Checked
	cfg *config
	// challenge is the WWW-Authenticate value, built once.
	challenge string
}

var _ policies.RequestPolicy = (*Policy)(nil)

// GetPolicy is the factory the engine calls once per configured instance.
func GetPolicy(_ policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	cfg, err := parseConfig(params)
	if err != nil {
		return nil, err
	}
	return &Policy{
		Checked:   policyName,
		cfg:       cfg,
		challenge: fmt.Sprintf("APIKey header=%q", cfg.header),
	}, nil
}

// ExecuteRequest admits the request when its key matches one of the configured keys.
// config is the same parameter map GetPolicy parsed; the parsed form is used instead.
func (p *Policy) ExecuteRequest(ctx *policies.RequestContext, _ map[string]interface{}) *policies.RequestPolicyAction {
	values := ctx.Headers.Values(p.cfg.header)
	switch {
	case len(values) == 0 || values[0] == "":
		return p.unauthorized("missing API key", "no key in header "+p.cfg.header)
	case len(values) > 1:
		// Two keys are ambiguous: a proxy and the upstream might each pick a different one.
		return p.unauthorized("invalid API key", "more than one value in header "+p.cfg.header)
	case !p.matches(values[0]):
		return p.unauthorized("invalid API key", "key not accepted")
	}
	if p.cfg.removeHeader {
		return &policies.RequestPolicyAction{Headers: policies.HeaderChanges{Remove: []string{p.cfg.header}}}
	}
	return nil
}

// matches compares the presented key with every configured key in constant time.
// Comparing SHA-256 digests gives equal-length inputs, so neither the key's length nor
// the position of the first differing byte shows in the timing, and the loop never stops
// early, so neither does which key matched.
func (p *Policy) matches(presented string) bool {
	digest := sha256.Sum256([]byte(presented))
	found := 0
	for i := range p.cfg.keyDigests {
		found |= subtle.ConstantTimeCompare(digest[:], p.cfg.keyDigests[i][:])
	}
	return found == 1
}

func (p *Policy) unauthorized(body, details string) *policies.RequestPolicyAction {
	action := policies.Deny(401, body+"\n")
	action.Immediate.Headers["www-authenticate"] = p.challenge
	action.Immediate.Details = policyName + ": " + details
	return action
}
