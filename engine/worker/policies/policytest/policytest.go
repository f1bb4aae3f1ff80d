// Package policytest helps policy authors test their policy against its policy.yaml
// the way the engine will load it. It reads the file with the engine's own parser and
// parameter-schema compiler (pkg/validation), so a passing test also means the engine
// accepts the file at run time: a valid name and version, known parameter types,
// compilable patterns and defaults that satisfy their own declarations.
//
// Typical use, from the policy's package directory, where params is the struct
// GetPolicy decodes its parameters into (policies.DecodeParams):
//
//	func TestPolicyYAMLMatchesCode(t *testing.T) {
//		p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"keys": []interface{}{"k1"}})
//		policytest.CheckSpec(t, ".", p, params{})
//	}
//
//	func TestRejectedParameters(t *testing.T) {
//		policytest.CheckRejected(t, ".", GetPolicy, []policytest.Rejection{
//			{Name: "empty key", Params: map[string]interface{}{"keys": policytest.List("")}, WantErr: `item 0 is empty`},
//		})
//	}
//
// Beyond that it builds requests' parts as the engine passes them (Headers, List) and
// runs one instance on many goroutines at once (Concurrently).
package policytest

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/pkg/validation"
	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// Route is the route name New gives the instances it builds.
const Route = "policytest"

// LoadSpec reads dir/policy.yaml and compiles its parameter schema exactly as the
// engine does when it registers the policy. It stops the test (t.Fatal) when the
// engine would reject the file.
func LoadSpec(t testing.TB, dir string) (*validation.Spec, *validation.ParameterSchema) {
	t.Helper()
	spec, schema, err := loadSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	return spec, schema
}

func loadSpec(dir string) (*validation.Spec, *validation.ParameterSchema, error) {
	file := filepath.Join(dir, "policy.yaml")
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	spec, err := validation.ParseSpec(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: the engine would reject it: %w", file, err)
	}
	schema, err := validation.CompileSchema(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: the engine would reject it: %w", file, err)
	}
	return spec, schema, nil
}

// CheckSpec keeps dir/policy.yaml and the code from drifting apart. Beyond what
// LoadSpec checks, it reports (t.Error) every mismatch of:
//   - the declared name and policy.Name();
//   - the declared version and dir's base name (the builder requires them equal);
//   - the declared parameters and the fields of params, a value of the struct the
//     policy decodes its parameters into with policies.DecodeParams: every parameter
//     has a field tagged with its name, of a type that holds the parameter's type,
//     and every field is such a parameter (see checkParams for the types);
//   - the declared phases and the interfaces policy implements (RequestPolicy,
//     ResponsePolicy): the engine refuses an instance that lacks a declared one.
//
// policy may be a zero value of the policy's type when building a real instance
// needs parameters or resources: only Name and the method set are used.
// CheckSpec returns the parsed spec for further checks, or nil after t.Fatal.
func CheckSpec(t testing.TB, dir string, policy policies.Policy, params any) *validation.Spec {
	t.Helper()
	spec, _ := LoadSpec(t, dir)
	if spec == nil {
		// t.Fatal returned: only a fake testing.TB lets it (runtime.Goexit otherwise).
		return nil
	}
	if err := compare(spec, dir, policy, params); err != nil {
		t.Error(err)
	}
	return spec
}

func compare(spec *validation.Spec, dir string, policy policies.Policy, params any) error {
	var errs []error
	if got := policy.Name(); spec.Name != got {
		errs = append(errs, fmt.Errorf("policy.yaml name %q, the code's Name() %q", spec.Name, got))
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if base := filepath.Base(abs); spec.Version != base {
		errs = append(errs, fmt.Errorf("policy.yaml version %q, directory %q", spec.Version, base))
	}
	errs = append(errs, checkParams(spec.Parameters, reflect.TypeOf(params)))
	return errors.Join(append(errs, checkPhases(spec, policy))...)
}

var durationType = reflect.TypeFor[time.Duration]()

// checkParams matches the declared parameters with the fields of the params struct
// by their policies.ParamTag, both ways, and each field's type with what
// policies.DecodeParams can fill from a value of the parameter's type.
func checkParams(declared []validation.Parameter, t reflect.Type) error {
	if t == nil || t.Kind() != reflect.Struct {
		return fmt.Errorf("params: want a value of the struct the policy decodes its parameters into, got %v", t)
	}
	var errs []error
	fields := map[string]reflect.StructField{}
	for _, f := range paramFields(t) {
		name := f.Tag.Get(policies.ParamTag)
		switch {
		case name == "":
			errs = append(errs, fmt.Errorf("%s.%s has no %s tag naming its parameter", t, f.Name, policies.ParamTag))
		case !f.IsExported():
			errs = append(errs, fmt.Errorf("%s.%s (parameter %q) is not exported, so it cannot be filled", t, f.Name, name))
		case fields[name].Name != "":
			errs = append(errs, fmt.Errorf("%s.%s and %s.%s are both tagged %q", t, fields[name].Name, t, f.Name, name))
		default:
			fields[name] = f
		}
	}
	for _, p := range declared {
		f, ok := fields[p.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("policy.yaml declares parameter %q, %s has no field tagged %s:%q", p.Name, t, policies.ParamTag, p.Name))
			continue
		}
		delete(fields, p.Name)
		if err := checkType(p, f.Type); err != nil {
			errs = append(errs, fmt.Errorf("parameter %q (%s.%s): %w", p.Name, t, f.Name, err))
		}
	}
	names := slices.Sorted(maps.Keys(fields))
	for _, name := range names {
		errs = append(errs, fmt.Errorf("%s.%s is tagged %s:%q, a parameter policy.yaml does not declare", t, fields[name].Name, policies.ParamTag, name))
	}
	return errors.Join(errs...)
}

// paramFields lists t's fields, with the fields of an embedded struct tagged
// `param:",squash"` in place of that struct, as policies.DecodeParams fills them.
func paramFields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get(policies.ParamTag) == ",squash" {
			out = append(out, paramFields(f.Type)...)
			continue
		}
		out = append(out, f)
	}
	return out
}

// checkType reports whether a field of type t can hold every value of p's type.
// A pointer holds what it points to (nil when the parameter is absent).
func checkType(p validation.Parameter, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var ok bool
	want := ""
	switch p.Type {
	case "string", "uri":
		ok, want = t.Kind() == reflect.String, "a string"
	case "duration":
		ok, want = t == durationType, "a time.Duration"
	case "integer":
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			ok = t != durationType
		}
		want = "an integer type"
	case "number":
		ok, want = t.Kind() == reflect.Float64 || t.Kind() == reflect.Float32, "float64 or float32"
	case "boolean":
		ok, want = t.Kind() == reflect.Bool, "a bool"
	case "array":
		ok, want = t.Kind() == reflect.Slice, "a slice"
		if ok && p.Items != nil {
			if err := checkType(*p.Items, t.Elem()); err != nil {
				return fmt.Errorf("items: %w", err)
			}
		}
	case "object":
		ok = t.Kind() == reflect.Struct || t.Kind() == reflect.Map && t.Key().Kind() == reflect.String
		want = "a struct or a map with string keys"
	}
	if !ok {
		return fmt.Errorf("type %s needs %s, the field is %s", p.Type, want, t)
	}
	return nil
}

// checkPhases applies the engine's rule: an instance must implement the interface of
// every phase its policy.yaml declares.
func checkPhases(spec *validation.Spec, policy policies.Policy) error {
	var errs []error
	if _, ok := policy.(policies.RequestPolicy); spec.RequestPhase() && !ok {
		errs = append(errs, fmt.Errorf("policy.yaml declares the request phase but %T does not implement RequestPolicy", policy))
	}
	if _, ok := policy.(policies.ResponsePolicy); spec.ResponsePhase() && !ok {
		errs = append(errs, fmt.Errorf("policy.yaml declares the response phase but %T does not implement ResponsePolicy", policy))
	}
	return errors.Join(errs...)
}

// New builds one instance of the policy in dir the way the engine does at
// configuration load: params are checked against policy.yaml's parameter schema and
// the declared defaults of absent parameters are filled in, then the factory and
// Validate both receive that map, and the instance must implement the interface of
// every declared phase. Any rejection stops the test (t.Fatal), naming the
// step that failed. An instance implementing policies.Closer is closed when the test
// ends. New returns nil only after t.Fatal returned (a fake testing.TB).
func New(t testing.TB, dir string, factory policies.Factory, params map[string]interface{}) policies.Policy {
	t.Helper()
	p, err := Build(t, dir, factory, params)
	if err != nil {
		t.Fatal(err)
		return nil
	}
	return p
}

// Build is New for tests of parameters the engine must refuse: it returns the
// rejection, naming the step that refused them (policy.yaml's schema, the factory,
// Validate) as the engine does, instead of stopping the test. A policy.yaml the
// engine would reject still stops the test (t.Fatal), so a broken file cannot pass
// for a refused parameter.
func Build(t testing.TB, dir string, factory policies.Factory, params map[string]interface{}) (policies.Policy, error) {
	t.Helper()
	spec, schema, err := loadSpec(dir)
	if err != nil {
		t.Fatal(err)
		return nil, err
	}
	p, err := build(spec, schema, factory, params)
	if err != nil {
		return nil, err
	}
	if c, ok := p.(policies.Closer); ok {
		t.Cleanup(func() {
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	return p, nil
}

func build(spec *validation.Spec, schema *validation.ParameterSchema, factory policies.Factory, params map[string]interface{}) (policies.Policy, error) {
	filled, err := schema.Validate(params)
	if err != nil {
		return nil, fmt.Errorf("parameters rejected by policy.yaml's schema: %w", err)
	}
	md := policies.PolicyMetadata{Name: spec.Name, Version: spec.Version, Route: Route}
	p, err := factory(md, filled)
	if err != nil {
		return nil, fmt.Errorf("policy factory (GetPolicy): %w", err)
	}
	if p == nil {
		return nil, errors.New("policy factory (GetPolicy) returned no policy")
	}
	err = p.Validate(filled)
	if err != nil {
		err = fmt.Errorf("policy rejected its parameters (Validate): %w", err)
	} else {
		err = checkPhases(spec, p)
	}
	if err != nil {
		if c, ok := p.(policies.Closer); ok {
			_ = c.Close()
		}
		return nil, err
	}
	return p, nil
}
