package policytest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

// fakeTB records what the helpers report instead of failing the real test, so the
// tests can assert that a broken policy.yaml is reported. Methods the helpers are not
// expected to call hit the nil embedded interface and panic.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex // Error may be called from several goroutines
	errors   []string
	fatal    bool
	cleanups []func()
}

func (f *fakeTB) Helper()                   {}
func (f *fakeTB) Error(args ...any)         { f.record(fmt.Sprint(args...)) }
func (f *fakeTB) Errorf(s string, a ...any) { f.record(fmt.Sprintf(s, a...)) }
func (f *fakeTB) Fatal(args ...any)         { f.fatal = true; f.Error(args...) }
func (f *fakeTB) Cleanup(fn func())         { f.cleanups = append(f.cleanups, fn) }

func (f *fakeTB) record(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, msg)
}

func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// report fails t unless the fake recorded exactly the expected outcome.
func (f *fakeTB) expect(t *testing.T, fatal bool, contains ...string) {
	t.Helper()
	if f.fatal != fatal {
		t.Errorf("fatal = %v, want %v (reports: %q)", f.fatal, fatal, f.errors)
	}
	all := strings.Join(f.errors, "\n")
	if len(contains) == 0 && all != "" {
		t.Errorf("unexpected reports: %s", all)
	}
	for _, c := range contains {
		if !strings.Contains(all, c) {
			t.Errorf("reports %q do not mention %q", all, c)
		}
	}
}

const goodSpec = `name: greeter
version: v1.0.0
supportsRequestPhase: true
parameters:
  - name: greeting
    type: string
    default: hello
    minLength: 1
  - name: target
    type: string
    required: true
`

// specDir writes policy.yaml into a directory named like a policy version.
func specDir(t *testing.T, version, yaml string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), version)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// reqPolicy is a request-phase policy that records what it was built with.
type reqPolicy struct {
	name        string
	md          policies.PolicyMetadata
	params      map[string]any
	validateErr error
	closed      *bool
}

func (p *reqPolicy) Name() string                  { return p.name }
func (p *reqPolicy) Validate(map[string]any) error { return p.validateErr }
func (p *reqPolicy) ExecuteRequest(*policies.RequestContext, map[string]any) *policies.RequestPolicyAction {
	return nil
}

// closingPolicy adds policies.Closer.
type closingPolicy struct{ reqPolicy }

func (p *closingPolicy) Close() error { *p.closed = true; return nil }

// respPolicy implements only the response phase.
type respPolicy struct{ policies.Checked }

func (respPolicy) ExecuteResponse(*policies.ResponseContext, map[string]any) *policies.ResponsePolicyAction {
	return nil
}

// greeterParams is the params struct that matches goodSpec.
type greeterParams struct {
	Greeting string `param:"greeting"`
	Target   string `param:"target"`
}

func TestCheckSpecAcceptsMatchingPolicy(t *testing.T) {
	dir := specDir(t, "v1.0.0", goodSpec)
	f := &fakeTB{}
	spec := CheckSpec(f, dir, &reqPolicy{name: "greeter"}, greeterParams{})
	f.expect(t, false)
	if spec == nil || spec.Name != "greeter" {
		t.Errorf("spec %+v", spec)
	}
}

// sharedGreeting is a set of parameters several policies could share.
type sharedGreeting struct {
	Greeting string `param:"greeting"`
}

func TestCheckSpecLooksIntoSquashedStructs(t *testing.T) {
	dir := specDir(t, "v1.0.0", goodSpec)
	f := &fakeTB{}
	CheckSpec(f, dir, &reqPolicy{name: "greeter"}, struct {
		sharedGreeting `param:",squash"`
		Target         string `param:"target"`
	}{})
	f.expect(t, false)

	f = &fakeTB{}
	CheckSpec(f, dir, &reqPolicy{name: "greeter"}, struct {
		sharedGreeting `param:",squash"`
	}{})
	f.expect(t, false, `declares parameter "target"`)
}

func TestCheckSpecReportsMismatches(t *testing.T) {
	cases := map[string]struct {
		version  string
		yaml     string
		policy   policies.Policy
		params   any
		contains []string
	}{
		"name": {"v1.0.0", goodSpec, &reqPolicy{name: "greeter2"}, greeterParams{},
			[]string{`name "greeter", the code's Name() "greeter2"`}},
		"version": {"v1.0.1", goodSpec, &reqPolicy{name: "greeter"}, greeterParams{},
			[]string{`version "v1.0.0", directory "v1.0.1"`}},
		"parameter without a field": {"v1.0.0", goodSpec, &reqPolicy{name: "greeter"}, struct {
			Greeting string `param:"greeting"`
		}{}, []string{`policy.yaml declares parameter "target", struct { Greeting string "param:\"greeting\"" } has no field tagged param:"target"`}},
		"untagged field": {"v1.0.0", goodSpec, &reqPolicy{name: "greeter"}, struct {
			greeterParams
		}{}, []string{"has no param tag"}},
		"field of an undeclared parameter": {"v1.0.0", goodSpec, &reqPolicy{name: "greeter"}, struct {
			Greeting string `param:"greeting"`
			Target   string `param:"target"`
			Loud     bool   `param:"loud"`
		}{}, []string{`.Loud is tagged param:"loud", a parameter policy.yaml does not declare`}},
		"two fields, one parameter": {"v1.0.0", goodSpec, &reqPolicy{name: "greeter"}, struct {
			Greeting string `param:"greeting"`
			Target   string `param:"target"`
			Again    string `param:"target"`
		}{}, []string{`.Target and `, `.Again are both tagged "target"`}},
		"unexported field": {"v1.0.0", goodSpec, &reqPolicy{name: "greeter"}, struct {
			Greeting string `param:"greeting"`
			target   string `param:"target"`
		}{}, []string{`.target (parameter "target") is not exported`}},
		"wrong field type": {"v1.0.0", goodSpec, &reqPolicy{name: "greeter"}, struct {
			Greeting []byte `param:"greeting"`
			Target   string `param:"target"`
		}{}, []string{`parameter "greeting"`, "type string needs a string, the field is []uint8"}},
		"not a struct": {"v1.0.0", goodSpec, &reqPolicy{name: "greeter"}, []string{"greeting", "target"},
			[]string{"want a value of the struct", "[]string"}},
		"request phase not implemented": {"v1.0.0", goodSpec, respPolicy{"greeter"}, greeterParams{},
			[]string{"declares the request phase", "does not implement RequestPolicy"}},
		"response phase not implemented": {"v1.0.0", strings.Replace(goodSpec, "supportsRequestPhase: true", "supportsResponsePhase: true", 1),
			&reqPolicy{name: "greeter"}, greeterParams{}, []string{"does not implement ResponsePolicy"}},
		"every mismatch at once": {"v2.0.0", goodSpec, &reqPolicy{name: "other"}, struct{}{},
			[]string{"Name()", "directory", `declares parameter "greeting"`, `declares parameter "target"`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := &fakeTB{}
			CheckSpec(f, specDir(t, tc.version, tc.yaml), tc.policy, tc.params)
			f.expect(t, false, tc.contains...)
		})
	}
}

// everyTypeSpec declares one parameter of each type policy.yaml knows.
const everyTypeSpec = `name: every
version: v1.0.0
parameters:
  - {name: s, type: string}
  - {name: u, type: uri}
  - {name: d, type: duration}
  - {name: i, type: integer}
  - {name: n, type: number}
  - {name: b, type: boolean}
  - {name: a, type: array, items: {type: integer}}
  - {name: free, type: array}
  - {name: m, type: object}
  - {name: o, type: object}
`

func TestCheckSpecMatchesEachParameterType(t *testing.T) {
	dir := specDir(t, "v1.0.0", everyTypeSpec)
	good := struct {
		S    string            `param:"s"`
		U    string            `param:"u"`
		D    time.Duration     `param:"d"`
		I    *int64            `param:"i"`
		N    float64           `param:"n"`
		B    bool              `param:"b"`
		A    []uint16          `param:"a"`
		Free []map[string]any  `param:"free"`
		M    map[string]string `param:"m"`
		O    struct {
			X string `param:"x"`
		} `param:"o"`
	}{}
	f := &fakeTB{}
	CheckSpec(f, dir, &reqPolicy{name: "every"}, good)
	f.expect(t, false)

	bad := struct {
		S    int            `param:"s"`
		U    []string       `param:"u"`
		D    int64          `param:"d"`
		I    time.Duration  `param:"i"`
		N    int            `param:"n"`
		B    string         `param:"b"`
		A    []string       `param:"a"`
		Free string         `param:"free"`
		M    map[int]string `param:"m"`
		O    []string       `param:"o"`
	}{}
	f = &fakeTB{}
	CheckSpec(f, dir, &reqPolicy{name: "every"}, bad)
	f.expect(t, false,
		`parameter "s"`, "type string needs a string, the field is int",
		`parameter "u"`, "type uri needs a string",
		`parameter "d"`, "type duration needs a time.Duration, the field is int64",
		`parameter "i"`, "type integer needs an integer type, the field is time.Duration",
		`parameter "n"`, "type number needs float64 or float32",
		`parameter "b"`, "type boolean needs a bool",
		`parameter "a"`, "items: type integer needs an integer type, the field is string",
		`parameter "free"`, "type array needs a slice",
		`parameter "m"`, "type object needs a struct or a map with string keys, the field is map[int]string",
		`parameter "o"`, "type object needs a struct or a map with string keys, the field is []string",
	)
}

func TestCheckSpecStopsWhenTheEngineWouldRejectTheFile(t *testing.T) {
	cases := map[string]struct {
		yaml     string
		contains string
	}{
		"not YAML":            {"name: [greeter\n", "policy.yaml"},
		"bad name":            {strings.Replace(goodSpec, "name: greeter", "name: 9greeter", 1), "name"},
		"unknown type":        {strings.Replace(goodSpec, "type: string\n    required", "type: text\n    required", 1), `unknown type "text"`},
		"default too short":   {strings.Replace(goodSpec, "default: hello", `default: ""`, 1), `parameter "greeting": default:`},
		"default wrong type":  {strings.Replace(goodSpec, "default: hello", "default: [hello]", 1), `parameter "greeting": default:`},
		"duplicate parameter": {goodSpec + "  - name: target\n    type: string\n", "declared twice"},
		"bad pattern":         {goodSpec + "    pattern: \"[\"\n", "pattern"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := &fakeTB{}
			if spec := CheckSpec(f, specDir(t, "v1.0.0", tc.yaml), &reqPolicy{name: "greeter"}, greeterParams{}); spec != nil {
				t.Error("returned a spec for a rejected file")
			}
			f.expect(t, true, "the engine would reject it", tc.contains)
		})
	}
}

func TestCheckSpecMissingFile(t *testing.T) {
	f := &fakeTB{}
	CheckSpec(f, t.TempDir(), &reqPolicy{name: "greeter"}, greeterParams{})
	f.expect(t, true, "policy.yaml")
}

func TestNewFillsDefaultsLikeTheEngine(t *testing.T) {
	dir := specDir(t, "v1.0.0", goodSpec)
	var built *reqPolicy
	factory := func(md policies.PolicyMetadata, params map[string]any) (policies.Policy, error) {
		built = &reqPolicy{name: "greeter", md: md, params: params}
		return built, nil
	}
	f := &fakeTB{}
	p := New(f, dir, factory, map[string]any{"target": "world"})
	f.expect(t, false)
	if p != built {
		t.Fatalf("New returned %v, not the factory's policy", p)
	}
	if built.params["greeting"] != "hello" || built.params["target"] != "world" {
		t.Errorf("factory got %v, want the default greeting filled in", built.params)
	}
	want := policies.PolicyMetadata{Name: "greeter", Version: "v1.0.0", Route: Route}
	if built.md != want {
		t.Errorf("metadata %+v, want %+v", built.md, want)
	}
}

func TestNewNormalizesNumbersLikeTheEngine(t *testing.T) {
	dir := specDir(t, "v1.0.0", "name: counter\nversion: v1.0.0\nparameters:\n  - name: limit\n    type: integer\n")
	var got any
	factory := func(_ policies.PolicyMetadata, params map[string]any) (policies.Policy, error) {
		got = params["limit"]
		return &reqPolicy{name: "counter"}, nil
	}
	New(&fakeTB{}, dir, factory, map[string]any{"limit": 3})
	if got != float64(3) {
		t.Errorf("factory got %T %v, want float64 3 as the engine passes numbers", got, got)
	}
}

func TestNewReportsEachRejection(t *testing.T) {
	ok := func(policies.PolicyMetadata, map[string]any) (policies.Policy, error) {
		return &reqPolicy{name: "greeter"}, nil
	}
	cases := map[string]struct {
		yaml     string
		factory  policies.Factory
		params   map[string]any
		contains []string
	}{
		"required parameter missing": {goodSpec, ok, nil,
			[]string{"schema", `parameter "target": required parameter missing`}},
		"unknown parameter": {goodSpec, ok, map[string]any{"target": "w", "colour": "red"},
			[]string{`parameter "colour": unknown parameter`}},
		"factory error": {goodSpec, func(policies.PolicyMetadata, map[string]any) (policies.Policy, error) {
			return nil, errors.New("no greeting")
		}, map[string]any{"target": "w"}, []string{"GetPolicy", "no greeting"}},
		"factory returns nil": {goodSpec, func(policies.PolicyMetadata, map[string]any) (policies.Policy, error) {
			return nil, nil
		}, map[string]any{"target": "w"}, []string{"returned no policy"}},
		"Validate error": {goodSpec, func(policies.PolicyMetadata, map[string]any) (policies.Policy, error) {
			return &reqPolicy{name: "greeter", validateErr: errors.New("too polite")}, nil
		}, map[string]any{"target": "w"}, []string{"(Validate)", "too polite"}},
		"phase not implemented": {goodSpec, func(policies.PolicyMetadata, map[string]any) (policies.Policy, error) {
			return respPolicy{"greeter"}, nil
		}, map[string]any{"target": "w"}, []string{"does not implement RequestPolicy"}},
		"file rejected": {"name: greeter\n", ok, nil, []string{"the engine would reject it"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := &fakeTB{}
			if p := New(f, specDir(t, "v1.0.0", tc.yaml), tc.factory, tc.params); p != nil {
				t.Errorf("returned %v after a rejection", p)
			}
			f.expect(t, true, tc.contains...)
		})
	}
}

func TestNewClosesTheInstance(t *testing.T) {
	dir := specDir(t, "v1.0.0", goodSpec)
	var closed bool
	factory := func(policies.PolicyMetadata, map[string]any) (policies.Policy, error) {
		return &closingPolicy{reqPolicy{name: "greeter", closed: &closed}}, nil
	}
	f := &fakeTB{}
	New(f, dir, factory, map[string]any{"target": "w"})
	if closed {
		t.Fatal("closed before the test ended")
	}
	f.runCleanups()
	if !closed {
		t.Error("not closed when the test ended")
	}
}

func TestNewClosesAnInstanceItRejects(t *testing.T) {
	dir := specDir(t, "v1.0.0", goodSpec)
	var closed bool
	factory := func(policies.PolicyMetadata, map[string]any) (policies.Policy, error) {
		return &closingPolicy{reqPolicy{name: "greeter", closed: &closed, validateErr: errors.New("no")}}, nil
	}
	f := &fakeTB{}
	New(f, dir, factory, map[string]any{"target": "w"})
	f.expect(t, true, "(Validate)")
	if !closed {
		t.Error("rejected instance not closed")
	}
}

func TestBuildReturnsTheRejection(t *testing.T) {
	dir := specDir(t, "v1.0.0", goodSpec)
	ok := func(policies.PolicyMetadata, map[string]any) (policies.Policy, error) {
		return &reqPolicy{name: "greeter"}, nil
	}
	f := &fakeTB{}
	p, err := Build(f, dir, ok, map[string]any{"target": 7})
	f.expect(t, false)
	if p != nil || err == nil || !strings.Contains(err.Error(), `schema: parameter "target": got number, want string`) {
		t.Errorf("Build = %v, %v; want the schema's rejection of target", p, err)
	}
	p, err = Build(f, dir, ok, map[string]any{"target": "w"})
	if p == nil || err != nil {
		t.Errorf("Build = %v, %v; want an instance", p, err)
	}
}

func TestBuildStopsOnARejectedFile(t *testing.T) {
	f := &fakeTB{}
	_, err := Build(f, specDir(t, "v1.0.0", "name: greeter\n"), nil, nil)
	f.expect(t, true, "the engine would reject it")
	if err == nil {
		t.Error("no error")
	}
}
