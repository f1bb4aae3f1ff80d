// Package headersetter is the setHeaders policy: it sets configured request headers,
// replacing whatever value the client sent for them.
package headersetter

import (
	"maps"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

const policyName = "setHeaders"

// Policy is one configured setHeaders instance; immutable after GetPolicy and safe for
// concurrent use.
type Policy struct {
	policies.Checked
	headers map[string]string
}

var _ policies.RequestPolicy = (*Policy)(nil)

// GetPolicy is the factory the engine calls once per configured instance.
func GetPolicy(_ policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	headers, err := parseHeaders(params)
	if err != nil {
		return nil, err
	}
	return &Policy{Checked: policyName, headers: headers}, nil
}

// ExecuteRequest continues the request with the configured headers set. It hands out a
// fresh map each time: the engine merges actions of a chain and must be free to modify
// what it receives without racing other requests.
func (p *Policy) ExecuteRequest(_ *policies.RequestContext, _ map[string]interface{}) *policies.RequestPolicyAction {
	return policies.SetRequestHeaders(maps.Clone(p.headers))
}
