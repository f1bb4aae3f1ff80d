package core

import (
	"strconv"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// HeaderMutation is the net effect of the header changes of several policies,
// applied in chain order. A name is in at most one of Remove and Set/Append.
type HeaderMutation struct {
	Set    map[string]string
	Append map[string][]string
	Remove map[string]struct{}
}

// IsEmpty reports whether there is nothing to change.
func (m *HeaderMutation) IsEmpty() bool {
	return len(m.Set) == 0 && len(m.Append) == 0 && len(m.Remove) == 0
}

// merge applies one policy's changes: removals first, then sets, then appends,
// so a later policy's decision about a header overrides an earlier one's.
func (m *HeaderMutation) merge(c policies.HeaderChanges) {
	for _, name := range c.Remove {
		name = policies.CanonicalHeaderName(name)
		delete(m.Set, name)
		delete(m.Append, name)
		if m.Remove == nil {
			m.Remove = map[string]struct{}{}
		}
		m.Remove[name] = struct{}{}
	}
	for name, value := range c.Set {
		m.SetHeader(name, value)
	}
	for name, values := range c.Append {
		name = policies.CanonicalHeaderName(name)
		delete(m.Remove, name)
		if m.Append == nil {
			m.Append = map[string][]string{}
		}
		m.Append[name] = append(m.Append[name], values...)
	}
}

// SetHeader replaces every value of name, cancelling earlier appends and removals.
func (m *HeaderMutation) SetHeader(name, value string) {
	name = policies.CanonicalHeaderName(name)
	delete(m.Remove, name)
	delete(m.Append, name)
	if m.Set == nil {
		m.Set = map[string]string{}
	}
	m.Set[name] = value
}

// Failure is a policy error, panic or timeout on a fail-closed route: the request
// is answered 500 and ID ties the answer to the log line.
type Failure struct {
	ID     string
	Policy string
	Err    error
}

// RequestResult is the net outcome of running (part of) a request chain.
type RequestResult struct {
	Headers HeaderMutation
	// Body is the last body replacement asked for, if any.
	Body *policies.BodyChange
	// Path and Method are the last rewrites asked for, if any.
	Path, Method string
	Immediate    *policies.ImmediateResponse
	Failure      *Failure
}

// ResponseResult is the net outcome of running (part of) a response chain.
type ResponseResult struct {
	Headers   HeaderMutation
	Body      *policies.BodyChange
	Status    int
	Immediate *policies.ImmediateResponse
	Failure   *Failure
}

// apply adds one policy's action to the result and to rc, so the next policy sees
// the request as this one left it. It reports whether rc's headers changed.
func (r *RequestResult) apply(a *policies.RequestPolicyAction, rc *policies.RequestContext) bool {
	r.Headers.merge(a.Headers)
	if a.Body != nil {
		r.Body = a.Body
		rc.Body = a.Body.Content
	}
	var pseudo map[string]string
	if a.Path != "" {
		r.Path, rc.Path = a.Path, a.Path
		pseudo = withPseudo(pseudo, ":path", a.Path)
	}
	if a.Method != "" {
		r.Method, rc.Method = a.Method, a.Method
		pseudo = withPseudo(pseudo, ":method", a.Method)
	}
	return updateHeaders(&rc.Headers, a.Headers, pseudo)
}

// apply adds one policy's action to the result and to rc; see RequestResult.apply.
func (r *ResponseResult) apply(a *policies.ResponsePolicyAction, rc *policies.ResponseContext) bool {
	r.Headers.merge(a.Headers)
	if a.Body != nil {
		r.Body = a.Body
		rc.Body = a.Body.Content
	}
	var pseudo map[string]string
	if a.Status != 0 {
		r.Status, rc.Status = a.Status, a.Status
		pseudo = withPseudo(pseudo, ":status", strconv.Itoa(a.Status))
	}
	return updateHeaders(&rc.Headers, a.Headers, pseudo)
}

func withPseudo(m map[string]string, name, value string) map[string]string {
	if m == nil {
		m = make(map[string]string, 2)
	}
	m[name] = value
	return m
}

func updateHeaders(h *policies.Headers, c policies.HeaderChanges, pseudo map[string]string) bool {
	if c.IsEmpty() && len(pseudo) == 0 {
		return false
	}
	if !c.IsEmpty() {
		*h = h.With(c)
	}
	if len(pseudo) > 0 {
		*h = h.With(policies.HeaderChanges{Set: pseudo})
	}
	return true
}
