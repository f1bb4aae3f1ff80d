// Package requestbody is a test-only policy that reads and replaces request bodies.
package requestbody

import (
	"bytes"
	"strconv"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// Policy is the testRequestBody policy.
type Policy struct{}

// GetPolicy is the policy's factory.
func GetPolicy(policies.PolicyMetadata, map[string]interface{}) (policies.Policy, error) {
	return Policy{}, nil
}

// Name returns the name in policy.yaml.
func (Policy) Name() string { return "testRequestBody" }

// Validate accepts every configuration.
func (Policy) Validate(map[string]interface{}) error { return nil }

// ExecuteRequest denies a body with "forbidden" in it and prefixes any other.
func (Policy) ExecuteRequest(ctx *policies.RequestContext, _ map[string]interface{}) *policies.RequestPolicyAction {
	if bytes.Contains(ctx.Body, []byte("forbidden")) {
		return &policies.RequestPolicyAction{Immediate: &policies.ImmediateResponse{
			Status:  403,
			Headers: map[string]string{"x-denied-by": "testRequestBody"},
			Body:    []byte("forbidden body\n"),
		}}
	}
	return &policies.RequestPolicyAction{
		Headers: policies.HeaderChanges{Set: map[string]string{"x-original-length": strconv.Itoa(len(ctx.Body))}},
		Body:    &policies.BodyChange{Content: append([]byte("checked:"), ctx.Body...)},
	}
}
