package policies

import (
	"context"
	"net/textproto"
	"sort"
)

// Headers is a read-only view of HTTP headers. Names are matched case-insensitively;
// pseudo-headers (":path", ":method", …) are kept as Envoy sends them.
//
// A request carries a dozen or two headers and a policy reads a few, so the view is
// two short lists searched in order rather than maps: building a map per Envoy
// message, and another after every header change, cost more than the policies
// reading them (pprof of the engine under load).
type Headers struct {
	// fields are the headers received, one per name; shared, never changed.
	fields []field
	// changed overrides fields, as With left them: one entry per name changed,
	// values nil when the header was removed. With copies only this list.
	changed []field
}

// field is one header name with its values.
type field struct {
	name   string
	values []string
}

// NewHeaders builds a Headers from name → values. Names are lower-cased. The
// value slices are kept, not copied: the caller must not change them afterwards.
func NewHeaders(h map[string][]string) Headers {
	fields := make([]field, 0, len(h))
	for name, vs := range h {
		fields = addValues(fields, canonicalName(name), vs)
	}
	return Headers{fields: fields}
}

// HeadersFromPairs builds a Headers from n name/value pairs, pair(0) to pair(n-1).
// Names are lower-cased; a repeated name keeps all its values in order. The engine
// calls it once per Envoy headers message.
func HeadersFromPairs(n int, pair func(i int) (name, value string)) Headers {
	fields := make([]field, 0, n)
	// One backing array for all values: most names carry one value, so each gets a
	// one-element slice of it instead of an allocation of its own.
	backing := make([]string, n)
	for i := range n {
		name, v := pair(i)
		backing[i] = v
		fields = addValues(fields, canonicalName(name), backing[i:i+1:i+1])
	}
	return Headers{fields: fields}
}

// addValues appends vs to key's field, or a new field, in fields.
func addValues(fields []field, key string, vs []string) []field {
	for i := range fields {
		if fields[i].name == key {
			old := fields[i].values
			fields[i].values = append(old[:len(old):len(old)], vs...)
			return fields
		}
	}
	return append(fields, field{name: key, values: vs})
}

// With returns a copy of h with c applied in the order the engine applies changes:
// removals, then sets, then appends. h itself is unchanged.
func (h Headers) With(c HeaderChanges) Headers {
	changed := make([]field, len(h.changed), len(h.changed)+len(c.Remove)+len(c.Set)+len(c.Append))
	copy(changed, h.changed)
	for _, name := range c.Remove {
		changed = override(changed, CanonicalHeaderName(name), nil)
	}
	for name, v := range c.Set {
		changed = override(changed, CanonicalHeaderName(name), []string{v})
	}
	for name, vs := range c.Append {
		key := CanonicalHeaderName(name)
		old, _ := Headers{fields: h.fields, changed: changed}.lookup(key)
		changed = override(changed, key, append(old[:len(old):len(old)], vs...))
	}
	return Headers{fields: h.fields, changed: changed}
}

// override sets key's entry in changed (a copy With owns) to vs.
func override(changed []field, key string, vs []string) []field {
	for i := range changed {
		if changed[i].name == key {
			changed[i].values = vs
			return changed
		}
	}
	return append(changed, field{name: key, values: vs})
}

// lookup returns the values of the canonical name key, and whether it is present.
func (h Headers) lookup(key string) ([]string, bool) {
	for i := range h.changed {
		if h.changed[i].name == key {
			return h.changed[i].values, h.changed[i].values != nil
		}
	}
	for i := range h.fields {
		if h.fields[i].name == key {
			return h.fields[i].values, true
		}
	}
	return nil, false
}

// Get returns the first value of name, or "" when absent.
func (h Headers) Get(name string) string {
	vs, _ := h.lookup(canonicalName(name))
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// Values returns every value of name in the order received.
func (h Headers) Values(name string) []string {
	vs, _ := h.lookup(canonicalName(name))
	return vs
}

// Has reports whether name is present.
func (h Headers) Has(name string) bool {
	_, ok := h.lookup(canonicalName(name))
	return ok
}

// Names returns the header names, sorted.
func (h Headers) Names() []string {
	names := make([]string, 0, len(h.fields)+len(h.changed))
	for _, f := range h.fields {
		if !h.isChanged(f.name) {
			names = append(names, f.name)
		}
	}
	for _, f := range h.changed {
		if f.values != nil {
			names = append(names, f.name)
		}
	}
	sort.Strings(names)
	return names
}

func (h Headers) isChanged(key string) bool {
	for i := range h.changed {
		if h.changed[i].name == key {
			return true
		}
	}
	return false
}

// Len returns the number of distinct header names.
func (h Headers) Len() int {
	if len(h.changed) == 0 {
		return len(h.fields)
	}
	return len(h.Names())
}

func canonicalName(name string) string {
	// HTTP/2 and Envoy use lower-case names; lower-casing ASCII is all that is needed,
	// and names already in lower case (the usual case) are returned as they are.
	i := 0
	for i < len(name) && (name[i] < 'A' || name[i] > 'Z') {
		i++
	}
	if i == len(name) {
		return name
	}
	lower := []byte(name)
	for i, c := range lower {
		if 'A' <= c && c <= 'Z' {
			lower[i] = c + ('a' - 'A')
		}
	}
	return string(lower)
}

// CanonicalHeaderName returns the name in the form the engine uses for lookups.
func CanonicalHeaderName(name string) string { return canonicalName(textproto.TrimString(name)) }

// RequestContext is what a RequestPolicy sees of one request.
type RequestContext struct {
	// Context carries the policy's deadline and is cancelled when the stream ends.
	Context context.Context
	// Route is the route name the engine mapped this request to.
	Route string
	// Headers are the request headers, pseudo-headers included.
	Headers Headers
	// Method, Path, Scheme and Authority are copied from the pseudo-headers.
	Method, Path, Scheme, Authority string
	// ClientAddress is Envoy's `source.address` attribute, verbatim: the downstream
	// peer as "ip:port" ("10.0.0.1:5555", "[2001:db8::1]:5555"; split it with
	// net.SplitHostPort). It is the TCP peer, i.e. the closest proxy when there is
	// one, not X-Forwarded-For. Empty when the ext_proc filter's request_attributes
	// do not list source.address.
	ClientAddress string
	// Body is the buffered request body; nil unless the policy's policy.yaml
	// declares requiresRequestBody.
	Body []byte
	// Attributes are the other Envoy attributes received, by name.
	Attributes map[string]string
	// Shared lets policies of one chain pass values to later policies of the same
	// request (and to its response phase). It is never nil. Each call gets its own
	// copy, taken over by the chain only when the call completes: what a policy
	// writes and then fails, panics or times out is dropped. Namespace keys by
	// policy ("rateLimiting/3").
	Shared map[string]interface{}
}

// ResponseContext is what a ResponsePolicy sees of one response.
type ResponseContext struct {
	Context context.Context
	Route   string
	// Request is the request as the upstream received it.
	Request *RequestContext
	// Status is the upstream's HTTP status code.
	Status int
	// Headers are the response headers, ":status" included.
	Headers Headers
	// Body is the buffered response body; nil unless requiresResponseBody.
	Body []byte
	// Shared is the request's Shared map as the request phase left it; never nil.
	Shared map[string]interface{}
}
