// Package validaterequest is the validateRequest policy: it validates JSON request
// bodies against a JSON Schema given in its parameters.
package validaterequest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

const policyName = "validateRequest"

// maxReported bounds the failures listed in one answer: enough to fix a request,
// and a huge invalid array cannot make the answer huge.
const maxReported = 10

// params are the instance parameters as policy.yaml declares them; the engine has
// checked them against it and filled in the defaults.
type params struct {
	Schema       map[string]interface{} `param:"schema"`
	MaxBodyBytes int                    `param:"maxBodyBytes"`
	Methods      []string               `param:"methods"`
}

// Policy is one configured validateRequest instance; immutable and safe for
// concurrent use (a compiled jsonschema.Schema is).
type Policy struct {
	policies.Checked
	schema  *jsonschema.Schema
	maxBody int
	methods []string
}

var _ policies.RequestPolicy = (*Policy)(nil)

// schemaURL names the schema inside the compiler; it is never fetched.
const schemaURL = "urn:policy-engine:validateRequest:schema"

// noLoader refuses every URL the schema refers to outside itself: a schema from an
// engine configuration must not make the engine read files or the network.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s is outside the schema; only references inside it are resolved", url)
}

var printer = message.NewPrinter(language.English)

// GetPolicy is the factory the engine calls once per configured instance; the schema
// is compiled here, once, so a bad schema fails the configuration.
func GetPolicy(_ policies.PolicyMetadata, raw map[string]interface{}) (policies.Policy, error) {
	var p params
	if err := policies.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	if len(p.Methods) == 0 {
		return nil, fmt.Errorf("parameter %q: must list at least one method", "methods")
	}
	// Through JSON again so numbers are json.Number, as the library expects, rather
	// than the float64 the engine passes.
	doc, err := json.Marshal(p.Schema)
	if err != nil {
		return nil, fmt.Errorf("parameter %q: %w", "schema", err)
	}
	schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("parameter %q: %w", "schema", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	if err := c.AddResource(schemaURL, schemaDoc); err != nil {
		return nil, fmt.Errorf("parameter %q: %w", "schema", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("parameter %q: not a valid JSON Schema: %w", "schema", err)
	}
	return &Policy{Checked: policyName, schema: sch, maxBody: p.MaxBodyBytes, methods: p.Methods}, nil
}

// ExecuteRequest lets a valid body through unchanged and answers anything else.
func (p *Policy) ExecuteRequest(ctx *policies.RequestContext, _ map[string]interface{}) *policies.RequestPolicyAction {
	if !slices.Contains(p.methods, ctx.Method) {
		return nil
	}
	// The size first, from the header when there is one, so no oversized body is parsed.
	if n, err := strconv.Atoi(ctx.Headers.Get("content-length")); err == nil && n > p.maxBody || len(ctx.Body) > p.maxBody {
		return problem(413, "Content Too Large", fmt.Sprintf("the request body is larger than %d bytes", p.maxBody), nil)
	}
	if !isJSON(ctx.Headers.Get("content-type")) {
		return problem(415, "Unsupported Media Type", "the request body must be JSON (content-type application/json or */*+json)", nil)
	}
	if len(ctx.Body) == 0 {
		return problem(400, "Bad Request", "the request body is empty; a JSON document is required", nil)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ctx.Body))
	if err != nil {
		return problem(400, "Bad Request", "the request body is not valid JSON: "+err.Error(), nil)
	}
	err = p.schema.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return policies.Fail(fmt.Errorf("validateRequest: %w", err))
	}
	return problem(400, "Bad Request", "the request body does not match the schema", failures(ve))
}

// isJSON accepts application/json and structured syntax suffixes (+json).
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// failure is one schema violation: where in the body, and what is wrong.
type failure struct {
	Location string `json:"location"`
	Message  string `json:"message"`
}

// failures lists the leaves of the validation error tree (the causes, not the
// "allOf failed" nodes above them) in order of location, at most maxReported.
func failures(ve *jsonschema.ValidationError) []failure {
	var out []failure
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, failure{Location: pointer(e.InstanceLocation), Message: e.ErrorKind.LocalizedString(printer)})
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	slices.SortStableFunc(out, func(a, b failure) int { return strings.Compare(a.Location, b.Location) })
	if len(out) > maxReported {
		out = out[:maxReported]
	}
	return out
}

// pointer writes a location as an RFC 6901 JSON pointer ("" is the whole body).
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}

// problem answers with an RFC 9457 problem details body.
func problem(status int, title, detail string, errs []failure) *policies.RequestPolicyAction {
	body, _ := json.Marshal(struct {
		Type   string    `json:"type"`
		Title  string    `json:"title"`
		Status int       `json:"status"`
		Detail string    `json:"detail"`
		Errors []failure `json:"errors,omitempty"`
	}{"about:blank", title, status, detail, errs})
	return &policies.RequestPolicyAction{Immediate: &policies.ImmediateResponse{
		Status:  status,
		Headers: map[string]string{"content-type": "application/problem+json"},
		Body:    append(body, '\n'),
		Details: "validateRequest: " + detail,
	}}
}
