// Package transformjson is the transformJson policy: it sets, removes and renames
// fields of JSON request and response bodies by JSON pointer.
package transformjson

import (
	"encoding/json"
	"mime"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

const policyName = "transformJson"

// Policy is one configured transformJson instance; immutable and safe for concurrent use.
type Policy struct {
	policies.Checked
	cfg *config
}

var (
	_ policies.RequestPolicy        = (*Policy)(nil)
	_ policies.ResponsePolicy       = (*Policy)(nil)
	_ policies.ResponsePhaseSkipper = (*Policy)(nil)
)

// GetPolicy is the factory the engine calls once per configured instance.
func GetPolicy(_ policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	cfg, err := parseConfig(params)
	if err != nil {
		return nil, err
	}
	return &Policy{Checked: policyName, cfg: cfg}, nil
}

// SkipResponsePhase spares the chain the response (and buffering its body) when
// there are no response changes.
func (p *Policy) SkipResponsePhase() bool { return p.cfg.response.empty() }

// ExecuteRequest applies the request changes to a JSON body.
func (p *Policy) ExecuteRequest(ctx *policies.RequestContext, _ map[string]interface{}) *policies.RequestPolicyAction {
	body, refuse := p.transform(p.cfg.request, ctx.Headers, ctx.Body)
	switch {
	case refuse:
		return &policies.RequestPolicyAction{Immediate: problem(415, "Unsupported Media Type", "the request body must be JSON (content-type application/json or application/*+json, not compressed)")}
	case body != nil:
		return &policies.RequestPolicyAction{Body: &policies.BodyChange{Content: body}}
	}
	return nil
}

// ExecuteResponse applies the response changes to a JSON body.
func (p *Policy) ExecuteResponse(ctx *policies.ResponseContext, _ map[string]interface{}) *policies.ResponsePolicyAction {
	body, refuse := p.transform(p.cfg.response, ctx.Headers, ctx.Body)
	switch {
	case refuse:
		return &policies.ResponsePolicyAction{Immediate: problem(502, "Bad Gateway", "the upstream's response body is not JSON")}
	case body != nil:
		return &policies.ResponsePolicyAction{Body: &policies.BodyChange{Content: body}}
	}
	return nil
}

// transform applies changes to a message's body: it returns the new body (nil when
// nothing changed), or refuse when the body is not JSON and rejectNonJSON is set.
func (p *Policy) transform(changes patch, h policies.Headers, body []byte) (newBody []byte, refuse bool) {
	if changes.empty() || len(body) == 0 {
		return nil, false
	}
	if !isJSON(h, body) {
		return nil, p.cfg.rejectNonJSON
	}
	out, changed := changes.apply(body)
	if !changed {
		return nil, false
	}
	return out, false
}

// isJSON: a JSON media type, no content coding (a gzip body cannot be edited without
// decompressing it), and a body that is one JSON document.
func isJSON(h policies.Headers, body []byte) bool {
	mt, _, err := mime.ParseMediaType(h.Get("content-type"))
	if err != nil || !(mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return false
	}
	if ce := h.Get("content-encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return false
	}
	return json.Valid(body)
}

var options = func() *jsonpatch.ApplyOptions {
	o := jsonpatch.NewApplyOptions()
	// set creates missing parent objects, remove of a missing field is nothing.
	o.EnsurePathExistsOnAdd = true
	o.AllowMissingPathOnRemove = true
	// Keep <, > and & as they came rather than turning them into \u003c and friends.
	o.EscapeHTML = false
	return o
}()

// apply runs the whole patch in one pass. When an operation does not apply to this
// document (a rename of a missing field or into a missing parent, a path through a
// string, an array index out of range), it runs the changes one by one, each whole
// or not at all, and skips those that do not apply: a body of an unexpected shape
// keeps what can be changed, and no request fails for a field it does not have.
func (p patch) apply(body []byte) ([]byte, bool) {
	out, err := p.all.ApplyWithOptions(body, options)
	if err == nil {
		return out, true
	}
	changed := false
	for _, st := range p.ops {
		next, err := st.primary.ApplyWithOptions(body, options)
		if err != nil && st.fallback != nil {
			next, err = st.fallback.ApplyWithOptions(body, options)
		}
		if err != nil {
			continue
		}
		body, changed = next, true
	}
	return body, changed
}

// problem is an RFC 9457 problem details response.
func problem(status int, title, detail string) *policies.ImmediateResponse {
	body, _ := json.Marshal(map[string]interface{}{"type": "about:blank", "title": title, "status": status, "detail": detail})
	return &policies.ImmediateResponse{
		Status:  status,
		Headers: map[string]string{"content-type": "application/problem+json"},
		Body:    append(body, '\n'),
		Details: "transformJson: " + detail,
	}
}
