// Package validation reads a policy's policy.yaml (embedded in the binary by the
// builder) and checks instance parameters against the schema it declares.
package validation

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// Spec is the engine's view of a policy.yaml. The builder validates the file with a
// JSON Schema; the engine still checks what it relies on, because a definition can be
// registered by hand-written code too.
type Spec struct {
	Name                  string      `yaml:"name"`
	Version               string      `yaml:"version"`
	Description           string      `yaml:"description"`
	SupportsRequestPhase  *bool       `yaml:"supportsRequestPhase"`
	SupportsResponsePhase *bool       `yaml:"supportsResponsePhase"`
	RequiresRequestBody   bool        `yaml:"requiresRequestBody"`
	RequiresResponseBody  bool        `yaml:"requiresResponseBody"`
	Timeout               string      `yaml:"timeout"`
	Parameters            []Parameter `yaml:"parameters"`
}

// Parameter is one declared instance parameter.
type Parameter struct {
	Name        string     `yaml:"name" json:"name"`
	Type        string     `yaml:"type" json:"type"`
	Description string     `yaml:"description" json:"description,omitempty"`
	Required    bool       `yaml:"required" json:"required,omitempty"`
	Default     any        `yaml:"default" json:"default,omitempty"`
	Enum        []any      `yaml:"enum" json:"enum,omitempty"`
	Minimum     *float64   `yaml:"minimum" json:"minimum,omitempty"`
	Maximum     *float64   `yaml:"maximum" json:"maximum,omitempty"`
	MinLength   *int       `yaml:"minLength" json:"minLength,omitempty"`
	MaxLength   *int       `yaml:"maxLength" json:"maxLength,omitempty"`
	Pattern     string     `yaml:"pattern" json:"pattern,omitempty"`
	Items       *Parameter `yaml:"items" json:"items,omitempty"`
	// Sensitive marks a secret: the engine never writes its value (docs/security.md)
	// and accepts a reference ({fromEnv: NAME} or {fromFile: PATH}) in its place.
	Sensitive bool `yaml:"sensitive" json:"sensitive,omitempty"`
}

var (
	namePattern    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	versionPattern = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	parameterTypes = map[string]bool{
		"string": true, "integer": true, "number": true, "boolean": true,
		"uri": true, "duration": true, "array": true, "object": true,
	}
	// sensitiveTypes can hold a secret; a number, boolean or duration cannot be one
	// worth hiding (there are too few of them to guess from).
	sensitiveTypes = map[string]bool{"string": true, "uri": true, "array": true, "object": true}
)

// ParseSpec parses and checks a policy.yaml.
func ParseSpec(raw []byte) (*Spec, error) {
	var spec Spec
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("policy.yaml: %w", err)
	}
	if err := spec.check(); err != nil {
		return nil, fmt.Errorf("policy.yaml of %s:%s: %w", spec.Name, spec.Version, err)
	}
	return &spec, nil
}

// RequestPhase reports whether the policy runs on requests (default true).
func (s *Spec) RequestPhase() bool { return s.SupportsRequestPhase == nil || *s.SupportsRequestPhase }

// ResponsePhase reports whether the policy runs on responses (default false).
func (s *Spec) ResponsePhase() bool {
	return s.SupportsResponsePhase != nil && *s.SupportsResponsePhase
}

// DefaultTimeout is the policy's declared per-instance deadline, zero when none.
func (s *Spec) DefaultTimeout() time.Duration {
	// check() has already parsed it, so the error cannot happen here.
	d, _ := time.ParseDuration(s.Timeout)
	return d
}

func (s *Spec) check() error {
	var errs []error
	if !namePattern.MatchString(s.Name) {
		errs = append(errs, fmt.Errorf("name %q must match %s", s.Name, namePattern))
	}
	if !versionPattern.MatchString(s.Version) {
		errs = append(errs, fmt.Errorf("version %q must be a semantic version with a leading v", s.Version))
	}
	if !s.RequestPhase() && !s.ResponsePhase() {
		errs = append(errs, errors.New("at least one of supportsRequestPhase and supportsResponsePhase must be true"))
	}
	if s.Timeout != "" {
		if d, err := time.ParseDuration(s.Timeout); err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("timeout %q must be a positive duration such as 100ms", s.Timeout))
		}
	}
	seen := map[string]bool{}
	for _, p := range s.Parameters {
		if seen[p.Name] {
			errs = append(errs, fmt.Errorf("parameter %q declared twice", p.Name))
		}
		seen[p.Name] = true
		if p.Name == "" {
			errs = append(errs, errors.New("a parameter needs a name"))
			continue
		}
		if err := p.check(); err != nil {
			errs = append(errs, fmt.Errorf("parameter %q: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (p *Parameter) check() error {
	if !parameterTypes[p.Type] {
		return fmt.Errorf("unknown type %q", p.Type)
	}
	if p.Pattern != "" {
		if _, err := regexp.Compile(p.Pattern); err != nil {
			return fmt.Errorf("pattern: %w", err)
		}
	}
	if p.Sensitive {
		switch {
		case !sensitiveTypes[p.Type]:
			return fmt.Errorf("type %s cannot be sensitive; only string, uri, array and object can", p.Type)
		case p.Default != nil || len(p.Enum) > 0:
			// A secret written into policy.yaml is compiled into every binary.
			return errors.New("a sensitive parameter cannot declare a default or an enum: a secret in policy.yaml is no secret")
		}
	}
	if p.Items != nil {
		if p.Items.Sensitive {
			return errors.New("items: mark the array parameter sensitive, not its items")
		}
		if p.Type != "array" {
			return errors.New("items is only allowed on arrays")
		}
		if err := p.Items.check(); err != nil {
			return fmt.Errorf("items: %w", err)
		}
	}
	return nil
}
