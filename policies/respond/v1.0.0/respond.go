// Package respond is the respond policy: a canned response for mocks and maintenance
// windows, optionally only when a CEL condition holds.
package respond

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/policy-engine-builder/policy-engine/pkg/cel"
	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

const policyName = "respond"

// params are the instance parameters as policy.yaml declares them; the engine has
// checked them against it and filled in the defaults.
type params struct {
	Status    int               `param:"status"`
	Headers   map[string]string `param:"headers"`
	Body      string            `param:"body"`
	Condition string            `param:"condition"`
}

// Policy is one configured respond instance; immutable and safe for concurrent use.
type Policy struct {
	policies.Checked
	status  int
	headers map[string]string
	body    []byte
	// condition is nil when the response is always sent.
	condition *cel.Condition
}

var _ policies.RequestPolicy = (*Policy)(nil)

// headerName is an HTTP field name (RFC 9110 token).
var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// GetPolicy is the factory the engine calls once per configured instance; it
// compiles the condition, so a bad expression fails the configuration, not requests.
func GetPolicy(_ policies.PolicyMetadata, raw map[string]interface{}) (policies.Policy, error) {
	var p params
	if err := policies.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	if (p.Status == 204 || p.Status == 304) && p.Body != "" {
		return nil, fmt.Errorf("parameter %q: status %d has no body, so it must be empty", "body", p.Status)
	}
	out := &Policy{Checked: policyName, status: p.Status, headers: map[string]string{}, body: []byte(p.Body)}
	for _, name := range slices.Sorted(maps.Keys(p.Headers)) {
		lower := strings.ToLower(name)
		value := p.Headers[name]
		switch {
		case !headerName.MatchString(name):
			return nil, fmt.Errorf("parameter %q: header %q: not a valid header name", "headers", name)
		case lower == "content-length" || lower == "transfer-encoding":
			return nil, fmt.Errorf("parameter %q: header %q: Envoy frames the body itself", "headers", name)
		case strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }):
			return nil, fmt.Errorf("parameter %q: header %q: value contains a control character", "headers", name)
		}
		if _, dup := out.headers[lower]; dup {
			return nil, fmt.Errorf("parameter %q: header %q given twice (names are case-insensitive)", "headers", name)
		}
		out.headers[lower] = value
	}
	if p.Condition != "" {
		c, err := cel.Compile(p.Condition)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", "condition", err)
		}
		out.condition = c
	}
	return out, nil
}

// ExecuteRequest answers with the canned response when there is no condition or it
// holds, and lets the request through when it does not. A condition that fails to
// evaluate (reading a header that is absent, say) fails the policy: on a fail-closed
// route the client gets 500, rather than a mock or maintenance page by accident.
func (p *Policy) ExecuteRequest(ctx *policies.RequestContext, _ map[string]interface{}) *policies.RequestPolicyAction {
	if p.condition != nil {
		ok, err := p.condition.Eval(cel.RequestVars(ctx.Route, ctx.Method, ctx.Path, ctx.Headers))
		if err != nil {
			return policies.Fail(fmt.Errorf("respond: parameter %q: %w", "condition", err))
		}
		if !ok {
			return nil
		}
	}
	// Fresh copies: the engine may modify what it receives.
	return &policies.RequestPolicyAction{Immediate: &policies.ImmediateResponse{
		Status:  p.status,
		Headers: maps.Clone(p.headers),
		Body:    slices.Clone(p.body),
		Details: "respond: canned response",
	}}
}
