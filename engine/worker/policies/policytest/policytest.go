// Package policytest helps policy authors test their policy against its policy.yaml
// the way the engine will load it. It reads the file with the engine's own parser and
// parameter-schema compiler (pkg/validation), so a passing test also means the engine
// accepts the file at run time: a valid name and version, known parameter types,
// compilable patterns and defaults that satisfy their own declarations.
//
// Typical use, from the policy's package directory:
//
//	func TestPolicyYAMLMatchesCode(t *testing.T) {
//		policytest.CheckSpec(t, ".", &Policy{}, knownParams)
//	}
//
//	func TestDefaults(t *testing.T) {
//		p := policytest.New(t, ".", GetPolicy, map[string]interface{}{"keys": []interface{}{"k1"}})
//		...
//	}
package policytest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
//   - the declared parameters and acceptedParams, the names the code accepts;
//   - the declared phases and the interfaces policy implements (RequestPolicy,
//     ResponsePolicy): the engine refuses an instance that lacks a declared one.
//
// policy may be a zero value of the policy's type when building a real instance
// needs parameters or resources: only Name and the method set are used.
// CheckSpec returns the parsed spec for further checks, or nil after t.Fatal.
func CheckSpec(t testing.TB, dir string, policy policies.Policy, acceptedParams []string) *validation.Spec {
	t.Helper()
	spec, _ := LoadSpec(t, dir)
	if spec == nil {
		// t.Fatal returned: only a fake testing.TB lets it (runtime.Goexit otherwise).
		return nil
	}
	if err := compare(spec, dir, policy, acceptedParams); err != nil {
		t.Error(err)
	}
	return spec
}

func compare(spec *validation.Spec, dir string, policy policies.Policy, acceptedParams []string) error {
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
	declared := make([]string, len(spec.Parameters))
	for i, p := range spec.Parameters {
		declared[i] = p.Name
	}
	accepted := slices.Clone(acceptedParams)
	slices.Sort(declared)
	slices.Sort(accepted)
	if !slices.Equal(declared, accepted) {
		errs = append(errs, fmt.Errorf("policy.yaml declares parameters [%s], the code accepts [%s]",
			strings.Join(declared, " "), strings.Join(accepted, " ")))
	}
	return errors.Join(append(errs, checkPhases(spec, policy))...)
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
	p, err := build(dir, factory, params)
	if err != nil {
		t.Fatal(err)
		return nil
	}
	if c, ok := p.(policies.Closer); ok {
		t.Cleanup(func() {
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	return p
}

func build(dir string, factory policies.Factory, params map[string]interface{}) (policies.Policy, error) {
	spec, schema, err := loadSpec(dir)
	if err != nil {
		return nil, err
	}
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
