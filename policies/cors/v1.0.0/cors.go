// Package cors is the cors policy: cross-origin resource sharing answered by the engine.
package cors

import (
	"strings"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

const policyName = "cors"

// Policy is one configured cors instance; immutable and safe for concurrent use.
type Policy struct {
	policies.Checked
	cfg *config
}

var (
	_ policies.RequestPolicy  = (*Policy)(nil)
	_ policies.ResponsePolicy = (*Policy)(nil)
)

// GetPolicy is the factory the engine calls once per configured instance.
func GetPolicy(_ policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	cfg, err := parseConfig(params)
	if err != nil {
		return nil, err
	}
	return &Policy{Checked: policyName, cfg: cfg}, nil
}

// preflightVary lists what a preflight answer depends on, for caches between the
// browser and Envoy.
const preflightVary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"

// ExecuteRequest answers preflight requests (OPTIONS with Origin and
// Access-Control-Request-Method) itself and lets every other request through.
func (p *Policy) ExecuteRequest(ctx *policies.RequestContext, _ map[string]interface{}) *policies.RequestPolicyAction {
	origin := ctx.Headers.Get("origin")
	method := ctx.Headers.Get("access-control-request-method")
	if ctx.Method != "OPTIONS" || origin == "" || method == "" {
		return nil
	}
	if !p.cfg.originAllowed(origin) {
		return refuse("origin not allowed")
	}
	if !p.cfg.methods[method] {
		return refuse("method not allowed")
	}
	for _, v := range ctx.Headers.Values("access-control-request-headers") {
		for _, h := range strings.Split(v, ",") {
			if h = strings.ToLower(strings.TrimSpace(h)); h != "" && !p.cfg.headers[h] {
				return refuse("request header not allowed")
			}
		}
	}
	headers := map[string]string{
		"access-control-allow-origin":  p.allowOrigin(origin),
		"access-control-allow-methods": p.cfg.allowMethods,
		"access-control-max-age":       p.cfg.maxAge,
		"vary":                         preflightVary,
	}
	if p.cfg.allowHeaders != "" {
		headers["access-control-allow-headers"] = p.cfg.allowHeaders
	}
	if p.cfg.credentials {
		headers["access-control-allow-credentials"] = "true"
	}
	return &policies.RequestPolicyAction{Immediate: &policies.ImmediateResponse{Status: 204, Headers: headers}}
}

// refuse answers a preflight the policy does not allow: without CORS headers, so the
// browser blocks the actual request, and without reaching the upstream.
func refuse(details string) *policies.RequestPolicyAction {
	return &policies.RequestPolicyAction{Immediate: &policies.ImmediateResponse{
		Status:  403,
		Headers: map[string]string{"content-type": "text/plain; charset=utf-8", "vary": preflightVary},
		Body:    []byte("CORS preflight refused\n"),
		Details: "cors: " + details,
	}}
}

func (p *Policy) allowOrigin(origin string) string {
	if p.cfg.anyOrigin {
		return "*"
	}
	return origin
}

// corsHeaders are the response headers this policy owns: an upstream's own values are
// replaced or removed, so what the browser sees is what the configuration says.
var corsHeaders = []string{"access-control-allow-origin", "access-control-allow-credentials", "access-control-expose-headers"}

// ExecuteResponse adds the CORS headers to the response of an allowed origin's
// request, and removes the upstream's for any other. Vary: Origin goes on every
// response, since whether the headers are there depends on the request's Origin.
func (p *Policy) ExecuteResponse(ctx *policies.ResponseContext, _ map[string]interface{}) *policies.ResponsePolicyAction {
	a := &policies.ResponsePolicyAction{}
	if !varies(ctx.Headers.Values("vary")) {
		a.Headers.Append = map[string][]string{"vary": {"Origin"}}
	}
	origin := ctx.Request.Headers.Get("origin")
	if !p.cfg.originAllowed(origin) {
		a.Headers.Remove = append([]string(nil), corsHeaders...)
		return a
	}
	a.Headers.Set = map[string]string{"access-control-allow-origin": p.allowOrigin(origin)}
	if p.cfg.credentials {
		a.Headers.Set["access-control-allow-credentials"] = "true"
	} else {
		a.Headers.Remove = append(a.Headers.Remove, "access-control-allow-credentials")
	}
	if p.cfg.exposeHeaders != "" {
		a.Headers.Set["access-control-expose-headers"] = p.cfg.exposeHeaders
	} else {
		a.Headers.Remove = append(a.Headers.Remove, "access-control-expose-headers")
	}
	return a
}

// varies reports whether the Vary values already name Origin (or are "*").
func varies(values []string) bool {
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "origin") {
				return true
			}
		}
	}
	return false
}
