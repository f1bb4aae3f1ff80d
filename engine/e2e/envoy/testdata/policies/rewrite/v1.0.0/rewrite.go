// Package rewrite is a test-only policy that rewrites the path and method.
package rewrite

import "github.com/policy-engine-builder/policy-engine/worker/policies"

// Policy is the testRewrite policy.
type Policy struct{ path, method string }

// GetPolicy is the policy's factory.
func GetPolicy(_ policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	path, _ := params["path"].(string)
	method, _ := params["method"].(string)
	return Policy{path: path, method: method}, nil
}

// Name returns the name in policy.yaml.
func (Policy) Name() string { return "testRewrite" }

// Validate accepts every configuration the schema does.
func (Policy) Validate(map[string]interface{}) error { return nil }

// ExecuteRequest rewrites the request.
func (p Policy) ExecuteRequest(*policies.RequestContext, map[string]interface{}) *policies.RequestPolicyAction {
	return &policies.RequestPolicyAction{Path: p.path, Method: p.method}
}
