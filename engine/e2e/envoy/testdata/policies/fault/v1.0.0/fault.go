// Package fault is a test-only policy that fails on request: a panic or a sleep
// past its deadline.
package fault

import (
	"time"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// Policy is the testFault policy.
type Policy struct {
	sleep  time.Duration
	secret string
}

// GetPolicy is the policy's factory.
func GetPolicy(_ policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	s, _ := params["sleep"].(string)
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, err
	}
	secret, _ := params["secret"].(string)
	return Policy{sleep: d, secret: secret}, nil
}

// Name returns the name in policy.yaml.
func (Policy) Name() string { return "testFault" }

// Validate accepts every configuration the schema does.
func (Policy) Validate(map[string]interface{}) error { return nil }

// ExecuteRequest fails as the x-fault header asks, and passes otherwise.
func (p Policy) ExecuteRequest(ctx *policies.RequestContext, _ map[string]interface{}) *policies.RequestPolicyAction {
	switch ctx.Headers.Get("x-fault") {
	case "panic":
		panic("testFault: panic on request, secret " + p.secret)
	case "sleep":
		time.Sleep(p.sleep)
	}
	return nil
}
