package policytest

import "github.com/policy-engine-builder/policy-engine/worker/policies"

// Headers builds request or response headers from name, value pairs; a name given
// twice gets both values, in order. A trailing name without a value is ignored.
func Headers(pairs ...string) policies.Headers {
	h := map[string][]string{}
	for i := 0; i+1 < len(pairs); i += 2 {
		h[pairs[i]] = append(h[pairs[i]], pairs[i+1])
	}
	return policies.NewHeaders(h)
}

// List is an array parameter of strings as the engine passes it to a factory.
func List(items ...string) []interface{} {
	out := make([]interface{}, len(items))
	for i, s := range items {
		out[i] = s
	}
	return out
}
