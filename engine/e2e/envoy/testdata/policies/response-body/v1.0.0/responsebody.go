// Package responsebody is a test-only policy that reads and replaces response bodies.
package responsebody

import (
	"strconv"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// Policy is the testResponseBody policy.
type Policy struct{ status int }

// GetPolicy is the policy's factory.
func GetPolicy(_ policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	status, _ := params["status"].(float64)
	return Policy{status: int(status)}, nil
}

// Name returns the name in policy.yaml.
func (Policy) Name() string { return "testResponseBody" }

// Validate accepts every configuration the schema does.
func (Policy) Validate(map[string]interface{}) error { return nil }

// ExecuteResponse wraps the body and records what it saw in a header.
func (p Policy) ExecuteResponse(ctx *policies.ResponseContext, _ map[string]interface{}) *policies.ResponsePolicyAction {
	return &policies.ResponsePolicyAction{
		Headers: policies.HeaderChanges{Set: map[string]string{"x-upstream-status": strconv.Itoa(ctx.Status)}},
		Body:    &policies.BodyChange{Content: append([]byte("wrapped:"), ctx.Body...)},
		Status:  p.status,
	}
}
