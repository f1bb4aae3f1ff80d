package validation

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// goDurationFormat checks durations the way the engine and policies parse them,
// which differs from JSON Schema's ISO 8601 "duration" format.
const goDurationFormat = "go-duration"

var printer = message.NewPrinter(language.English)

// ParameterSchema validates the parameters of instances of one policy version.
type ParameterSchema struct {
	spec   *Spec
	schema *jsonschema.Schema
}

// CompileSchema derives a JSON Schema from the spec's parameter list and compiles it.
func CompileSchema(spec *Spec) (*ParameterSchema, error) {
	schema, err := compileSchema(spec)
	if err != nil {
		return nil, fmt.Errorf("parameter schema of %s:%s: %w", spec.Name, spec.Version, err)
	}
	return &ParameterSchema{spec: spec, schema: schema}, nil
}

func compileSchema(spec *Spec) (*jsonschema.Schema, error) {
	doc := map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"properties":           properties(spec.Parameters),
	}
	var required []any
	for _, p := range spec.Parameters {
		if p.Required {
			required = append(required, p.Name)
		}
	}
	if len(required) > 0 {
		doc["required"] = required
	}
	// The compiler wants JSON values (float64 numbers, []any); a round trip turns
	// YAML-decoded defaults and enums into exactly that.
	normalized, err := toJSONValue(doc)
	if err != nil {
		return nil, err
	}
	base := "mem:///" + url.PathEscape(spec.Name) + "/" + url.PathEscape(spec.Version) + "/"
	loc := base + "parameters.json"
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.RegisterFormat(&jsonschema.Format{Name: goDurationFormat, Validate: validateGoDuration})
	if err := c.AddResource(loc, normalized); err != nil {
		return nil, err
	}
	schema, err := c.Compile(loc)
	if err != nil {
		return nil, err
	}
	if err := checkDefaults(c, base+"defaults.json", spec); err != nil {
		return nil, err
	}
	return schema, nil
}

// checkDefaults validates the declared defaults against their parameters' own
// schemas. Validate fills defaults in after checking the instance, so a default the
// schema would reject (wrong type, outside its enum or bounds) would otherwise reach
// the policy unchecked on every instance that leaves the parameter out.
func checkDefaults(c *jsonschema.Compiler, loc string, spec *Spec) error {
	defaults := map[string]any{}
	for _, p := range spec.Parameters {
		if p.Default != nil {
			defaults[p.Name] = p.Default
		}
	}
	if len(defaults) == 0 {
		return nil
	}
	// The same properties without "required": a default never has to stand for
	// the whole parameter set.
	doc, err := toJSONValue(map[string]any{"type": "object", "properties": properties(spec.Parameters)})
	if err != nil {
		return err
	}
	if err := c.AddResource(loc, doc); err != nil {
		return err
	}
	schema, err := c.Compile(loc)
	if err != nil {
		return err
	}
	value, err := toJSONValue(defaults)
	if err != nil {
		return err
	}
	verr := schema.Validate(value)
	if verr == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(verr, &ve) {
		return verr
	}
	return join(parameterErrors(ve, nil), "default: ")
}

func properties(params []Parameter) map[string]any {
	props := make(map[string]any, len(params))
	for _, p := range params {
		props[p.Name] = typeSchema(p)
	}
	return props
}

func typeSchema(p Parameter) map[string]any {
	s := map[string]any{}
	switch p.Type {
	case "uri":
		s["type"], s["format"] = "string", "uri"
	case "duration":
		s["type"], s["format"] = "string", goDurationFormat
	default:
		s["type"] = p.Type
	}
	if len(p.Enum) > 0 {
		s["enum"] = p.Enum
	}
	if p.Minimum != nil {
		s["minimum"] = *p.Minimum
	}
	if p.Maximum != nil {
		s["maximum"] = *p.Maximum
	}
	if p.MinLength != nil {
		s["minLength"] = *p.MinLength
	}
	if p.MaxLength != nil {
		s["maxLength"] = *p.MaxLength
	}
	if p.Pattern != "" {
		s["pattern"] = p.Pattern
	}
	if p.Items != nil {
		s["items"] = typeSchema(*p.Items)
	}
	return s
}

func validateGoDuration(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	if _, err := time.ParseDuration(s); err != nil {
		return fmt.Errorf("not a duration such as 250ms or 1m30s")
	}
	return nil
}

// ParameterError is one problem with one parameter. Parameter is empty when the
// problem concerns the parameter set as a whole.
type ParameterError struct {
	Parameter string
	Message   string
}

func (e ParameterError) Error() string {
	if e.Parameter == "" {
		return e.Message
	}
	return fmt.Sprintf("parameter %q: %s", e.Parameter, e.Message)
}

// Validate checks params and returns them as JSON values (string, float64, bool,
// []any, map[string]any) with declared defaults filled in. The error joins
// ParameterErrors, one per problem, sorted by parameter.
func (s *ParameterSchema) Validate(params map[string]any) (map[string]any, error) {
	if params == nil {
		params = map[string]any{}
	}
	value, err := toJSONValue(params)
	if err != nil {
		return nil, ParameterError{Message: err.Error()}
	}
	out := value.(map[string]any)
	if err := s.schema.Validate(out); err != nil {
		var verr *jsonschema.ValidationError
		if !errors.As(err, &verr) {
			return nil, err
		}
		return nil, join(parameterErrors(verr, s.sensitive()), "")
	}
	for _, p := range s.spec.Parameters {
		if _, present := out[p.Name]; !present && p.Default != nil {
			def, err := toJSONValue(p.Default)
			if err != nil {
				return nil, ParameterError{Parameter: p.Name, Message: "default: " + err.Error()}
			}
			out[p.Name] = def
		}
	}
	return out, nil
}

// sensitive returns the names of the sensitive parameters.
func (s *ParameterSchema) sensitive() map[string]bool {
	out := map[string]bool{}
	for _, p := range s.spec.Parameters {
		if p.Sensitive {
			out[p.Name] = true
		}
	}
	return out
}

// join joins the ParameterErrors, prefix put before each message.
func join(perrs []ParameterError, prefix string) error {
	errs := make([]error, len(perrs))
	for i, e := range perrs {
		e.Message = prefix + e.Message
		errs[i] = e
	}
	return errors.Join(errs...)
}

// parameterErrors turns a validation error tree into one ParameterError per leaf,
// sorted by parameter. The messages of sensitive parameters name the rule broken but
// not the value: the validator quotes values ("'x' does not match pattern").
func parameterErrors(verr *jsonschema.ValidationError, sensitive map[string]bool) []ParameterError {
	var errs []ParameterError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		switch k := e.ErrorKind.(type) {
		case *kind.AdditionalProperties:
			for _, name := range k.Properties {
				errs = append(errs, ParameterError{Parameter: name, Message: "unknown parameter"})
			}
			return
		case *kind.Required:
			for _, name := range k.Missing {
				errs = append(errs, ParameterError{Parameter: name, Message: "required parameter missing"})
			}
			return
		}
		name := ""
		if len(e.InstanceLocation) > 0 {
			name = e.InstanceLocation[0]
		}
		msg := e.ErrorKind.LocalizedString(printer)
		// A type error names the types ("got string, want array"), never the value.
		if _, typeErr := e.ErrorKind.(*kind.Type); sensitive[name] && !typeErr {
			msg = "value breaks its " + strings.Join(e.ErrorKind.KeywordPath(), "/") + " rule (not shown: the parameter is sensitive)"
		}
		if len(e.InstanceLocation) > 1 {
			msg = "at /" + strings.Join(e.InstanceLocation[1:], "/") + ": " + msg
		}
		errs = append(errs, ParameterError{Parameter: name, Message: msg})
	}
	walk(verr)
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Parameter < errs[j].Parameter })
	return errs
}

func toJSONValue(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("not representable as JSON: %w", err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}
