package policies

// HeaderChanges are header mutations a policy asks for. Names are case-insensitive.
type HeaderChanges struct {
	// Set replaces every value of a header (adding it when absent).
	Set map[string]string
	// Append adds values, keeping existing ones.
	Append map[string][]string
	// Remove deletes headers.
	Remove []string
}

// IsEmpty reports whether there is nothing to change.
func (h HeaderChanges) IsEmpty() bool {
	return len(h.Set) == 0 && len(h.Append) == 0 && len(h.Remove) == 0
}

// BodyChange replaces a whole body. Content may be empty, which clears the body.
type BodyChange struct {
	Content []byte
}

// ImmediateResponse ends processing and answers the client directly.
type ImmediateResponse struct {
	Status  int
	Headers map[string]string
	Body    []byte
	// Details is logged and sent to Envoy as the response's details; not shown to clients.
	Details string
}

// RequestPolicyAction is what a RequestPolicy decides for one request.
type RequestPolicyAction struct {
	Headers HeaderChanges
	Body    *BodyChange
	// Path and Method, when non-empty, rewrite the request; the route is then
	// recomputed by Envoy.
	Path   string
	Method string
	// Immediate, when set, stops the chain and answers the client.
	Immediate *ImmediateResponse
	// Error, when set, says the policy could not decide. The engine answers 500 with
	// an error id (or skips the policy on a fail-open route); other fields are ignored.
	Error error
}

// ResponsePolicyAction is what a ResponsePolicy decides for one response.
type ResponsePolicyAction struct {
	Headers HeaderChanges
	Body    *BodyChange
	// Status, when non-zero, changes the response status code.
	Status int
	// Immediate, when set, replaces the upstream's response entirely.
	Immediate *ImmediateResponse
	// Error has the same meaning as RequestPolicyAction.Error.
	Error error
}

// Deny answers the request immediately with status and a plain-text body.
func Deny(status int, body string) *RequestPolicyAction {
	return &RequestPolicyAction{Immediate: &ImmediateResponse{
		Status:  status,
		Headers: map[string]string{"content-type": "text/plain; charset=utf-8"},
		Body:    []byte(body),
	}}
}

// SetRequestHeaders continues the request with the given headers set.
func SetRequestHeaders(headers map[string]string) *RequestPolicyAction {
	return &RequestPolicyAction{Headers: HeaderChanges{Set: headers}}
}

// Fail reports that a request policy could not decide; see RequestPolicyAction.Error.
func Fail(err error) *RequestPolicyAction {
	return &RequestPolicyAction{Error: err}
}
