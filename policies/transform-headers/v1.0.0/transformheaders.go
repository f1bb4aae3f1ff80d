// Package transformheaders is the transformHeaders policy: it adds, sets, removes and
// renames request and response headers, with values that may use request attributes.
package transformheaders

import (
	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

const policyName = "transformHeaders"

// Policy is one configured transformHeaders instance; immutable and safe for
// concurrent use.
type Policy struct {
	policies.Checked
	request, response *phase
}

var (
	_ policies.RequestPolicy        = (*Policy)(nil)
	_ policies.ResponsePolicy       = (*Policy)(nil)
	_ policies.ResponsePhaseSkipper = (*Policy)(nil)
)

// GetPolicy is the factory the engine calls once per configured instance.
func GetPolicy(_ policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	req, resp, err := parseConfig(params)
	if err != nil {
		return nil, err
	}
	return &Policy{Checked: policyName, request: req, response: resp}, nil
}

// SkipResponsePhase spares the chain a response round trip when there is nothing to
// change on responses.
func (p *Policy) SkipResponsePhase() bool { return p.response.empty() }

// ExecuteRequest applies the request changes.
func (p *Policy) ExecuteRequest(ctx *policies.RequestContext, _ map[string]interface{}) *policies.RequestPolicyAction {
	if p.request.empty() {
		return nil
	}
	return &policies.RequestPolicyAction{Headers: p.request.apply(ctx.Headers, vars{req: ctx, shared: ctx.Shared})}
}

// ExecuteResponse applies the response changes; variables read the request as the
// upstream received it, ${status} the upstream's status.
func (p *Policy) ExecuteResponse(ctx *policies.ResponseContext, _ map[string]interface{}) *policies.ResponsePolicyAction {
	if p.response.empty() {
		return nil
	}
	req := ctx.Request
	if req == nil {
		req = &policies.RequestContext{}
	}
	return &policies.ResponsePolicyAction{Headers: p.response.apply(ctx.Headers, vars{req: req, shared: ctx.Shared, status: ctx.Status})}
}

// apply builds a fresh HeaderChanges (the engine may modify what it receives). A set
// whose value renders empty, or not as a valid header value, removes the header, so
// a client-sent value never stands in for the missing one; an add like that adds
// nothing.
func (p *phase) apply(h policies.Headers, v vars) policies.HeaderChanges {
	c := policies.HeaderChanges{Set: map[string]string{}, Append: map[string][]string{}}
	c.Remove = append(c.Remove, p.remove...)
	for _, s := range p.set {
		if value, ok := s.value.render(v); ok {
			c.Set[s.name] = value
		} else {
			c.Remove = append(c.Remove, s.name)
		}
	}
	for _, a := range p.add {
		if value, ok := a.value.render(v); ok {
			c.Append[a.name] = []string{value}
		}
	}
	for _, r := range p.rename {
		values := h.Values(r.from)
		if len(values) == 0 {
			continue
		}
		c.Remove = append(c.Remove, r.from)
		c.Set[r.to] = values[0]
		if len(values) > 1 {
			c.Append[r.to] = append([]string(nil), values[1:]...)
		}
	}
	return c
}
