package core

import (
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
