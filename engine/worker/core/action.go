package core

import (
	"fmt"
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
		m.setHeader(name, value)
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

// setHeader replaces every value of name, cancelling earlier appends and removals.
func (m *HeaderMutation) setHeader(name, value string) {
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

// Result is the net outcome of running (part of) a chain in one direction, request
// or response: what the policies changed, in chain order, or why the chain stopped.
type Result struct {
	Headers HeaderMutation
	// Body is the last body replacement asked for, if any.
	Body *policies.BodyChange
	// Path and Method (request) and Status (response) are the last rewrites asked
	// for, if any.
	Path, Method string
	Status       int
	Immediate    *policies.ImmediateResponse
	Failure      *Failure
}

// change is one policy's action, request or response alike.
type change struct {
	headers      policies.HeaderChanges
	body         *policies.BodyChange
	path, method string
	status       int
	immediate    *policies.ImmediateResponse
	err          error
}

func requestChange(a *policies.RequestPolicyAction) change {
	if a == nil {
		return change{}
	}
	return change{headers: a.Headers, body: a.Body, path: a.Path, method: a.Method, immediate: a.Immediate, err: a.Error}
}

func responseChange(a *policies.ResponsePolicyAction) change {
	if a == nil {
		return change{}
	}
	return change{headers: a.Headers, body: a.Body, status: a.Status, immediate: a.Immediate, err: a.Error}
}

// check turns an action the engine cannot carry out into its error.
func (c *change) check() error {
	if c.err != nil {
		return c.err
	}
	if c.status != 0 && (c.status < 200 || c.status > 599) {
		return fmt.Errorf("policy asked for response status %d, outside 200-599", c.status)
	}
	if c.immediate != nil && (c.immediate.Status < 200 || c.immediate.Status > 599) {
		return fmt.Errorf("policy answered with status %d, outside 200-599", c.immediate.Status)
	}
	return nil
}

// view points at the fields of a request or response context that the policies
// after this one read; path, method and status are nil where the direction has none.
type view struct {
	headers      *policies.Headers
	body         *[]byte
	path, method *string
	status       *int
}

// apply adds c to the result and to v, so the next policy sees the request or
// response as this one left it. It reports whether v's headers changed.
func (r *Result) apply(c *change, v view) bool {
	r.Headers.merge(c.headers)
	if c.body != nil {
		r.Body = c.body
		*v.body = c.body.Content
	}
	var pseudo map[string]string
	if c.path != "" {
		r.Path, *v.path = c.path, c.path
		pseudo = withPseudo(pseudo, ":path", c.path)
	}
	if c.method != "" {
		r.Method, *v.method = c.method, c.method
		pseudo = withPseudo(pseudo, ":method", c.method)
	}
	if c.status != 0 {
		r.Status, *v.status = c.status, c.status
		pseudo = withPseudo(pseudo, ":status", strconv.Itoa(c.status))
	}
	return updateHeaders(v.headers, c.headers, pseudo)
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
