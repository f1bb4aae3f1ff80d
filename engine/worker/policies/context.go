package policies

import (
	"context"
	"net/textproto"
	"sort"
)

// Headers is a read-only view of HTTP headers. Names are matched case-insensitively;
// pseudo-headers (":path", ":method", …) are kept as Envoy sends them.
type Headers struct {
	values map[string][]string
	// changed overrides values, as With left it: a name mapped to nil is removed.
	// The engine derives the view each policy sees from the previous one after
	// every header change, so values is shared, never copied: copying every header
	// for every change cost more than the policies making them.
	changed map[string][]string
}

// NewHeaders builds a Headers from name → values. Names are lower-cased. The
// value slices are kept, not copied: the caller must not change them afterwards.
func NewHeaders(h map[string][]string) Headers {
	values := make(map[string][]string, len(h))
	for name, vs := range h {
		key := canonicalName(name)
		if existing, ok := values[key]; ok {
			values[key] = append(existing[:len(existing):len(existing)], vs...)
			continue
		}
		values[key] = vs
	}
	return Headers{values: values}
}

// HeadersFromPairs builds a Headers from n name/value pairs, pair(0) to pair(n-1).
// Names are lower-cased; a repeated name keeps all its values in order. Unlike
// NewHeaders it builds no intermediate map, which matters to the engine: it runs
// once per Envoy headers message.
func HeadersFromPairs(n int, pair func(i int) (name, value string)) Headers {
	values := make(map[string][]string, n)
	// One backing array for all values: most names carry one value, so each gets a
	// one-element slice of it instead of an allocation of its own.
	backing := make([]string, n)
	for i := range n {
		name, v := pair(i)
		key := canonicalName(name)
		if existing, ok := values[key]; ok {
			values[key] = append(existing[:len(existing):len(existing)], v)
			continue
		}
		backing[i] = v
		values[key] = backing[i : i+1 : i+1]
	}
	return Headers{values: values}
}

// With returns a copy of h with c applied in the order the engine applies changes:
// removals, then sets, then appends. h itself is unchanged.
func (h Headers) With(c HeaderChanges) Headers {
	changed := make(map[string][]string, len(h.changed)+len(c.Remove)+len(c.Set)+len(c.Append))
	for name, vs := range h.changed {
		changed[name] = vs
	}
	for _, name := range c.Remove {
		changed[CanonicalHeaderName(name)] = nil
	}
	for name, v := range c.Set {
		changed[CanonicalHeaderName(name)] = []string{v}
	}
	for name, vs := range c.Append {
		key := CanonicalHeaderName(name)
		old, ok := changed[key]
		if !ok {
			old = h.values[key]
		}
		changed[key] = append(old[:len(old):len(old)], vs...)
	}
	return Headers{values: h.values, changed: changed}
}

// lookup returns the values of the canonical name key, and whether it is present.
func (h Headers) lookup(key string) ([]string, bool) {
	if vs, ok := h.changed[key]; ok {
		return vs, vs != nil
	}
	vs, ok := h.values[key]
	return vs, ok
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
	names := make([]string, 0, len(h.values)+len(h.changed))
	for name := range h.values {
		if _, ok := h.changed[name]; !ok {
			names = append(names, name)
		}
	}
	for name, vs := range h.changed {
		if vs != nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// Len returns the number of distinct header names.
func (h Headers) Len() int {
	if len(h.changed) == 0 {
		return len(h.values)
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
