package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// engineDir is the repository's engine module, which holds the policy SDK.
func engineDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "engine"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Skipf("no engine module beside the helper: %v", err)
	}
	return dir
}

const engineModule = "github.com/policy-engine-builder/policy-engine"

// engineGo is the engine go.mod's go directive.
func engineGo(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(engineDir(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "go "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("the engine's go.mod has no go directive")
	return ""
}

// sdkPolicy is a policy that also calls dep.Call, which only dep v1.1.0 has.
const sdkPolicy = `package policy

import (
	"example.com/dep"

	"github.com/policy-engine-builder/policy-engine/worker/policies"
)

type policy struct{ policies.Checked }

func GetPolicy(metadata policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error) {
	dep.Call()
	return &policy{}, nil
}

func (p *policy) ExecuteRequest(ctx *policies.RequestContext, config map[string]interface{}) *policies.RequestPolicyAction {
	return nil
}
`

// A policy the caller has an answer for is left out of the workspace that loads the
// imports only when it cannot move a version: one requiring a newer dependency still
// decides the version the others are checked against.
func TestAnAnsweredPolicyStillDecidesVersions(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) {
		path := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	require := "require " + engineModule + " v0.0.0-00010101000000-000000000000\n"
	write("lib/dep10/go.mod", "module example.com/dep\n\ngo 1.24\n")
	write("lib/dep10/dep.go", "package dep\n")
	write("lib/dep11/go.mod", "module example.com/dep\n\ngo 1.24\n")
	write("lib/dep11/dep.go", "package dep\n\nfunc Call() {}\n")
	// new asks for v1.0.0 and is checked; old asks for v1.1.0 and has an answer.
	write("new/v1.0.0/go.mod", "module example.com/new\n\ngo 1.24\n\n"+require+
		"require example.com/dep v1.0.0\n\nreplace example.com/dep v1.0.0 => ../../lib/dep10\n")
	write("new/v1.0.0/policy.go", sdkPolicy)
	write("old/v1.0.0/go.mod", "module example.com/old\n\ngo 1.24\n\n"+require+
		"require example.com/dep v1.1.0\n\nreplace example.com/dep v1.1.0 => ../../lib/dep11\n")
	write("old/v1.0.0/policy.go", strings.Replace(sdkPolicy, "\tdep.Call()\n", "", 1))
	// plain requires only the engine: it can move no version.
	write("plain/v1.0.0/go.mod", "module example.com/plain\n\ngo 1.24\n\n"+require)
	write("plain/v1.0.0/policy.go", strings.Replace(strings.Replace(sdkPolicy, "\tdep.Call()\n", "", 1), "\t\"example.com/dep\"\n", "", 1))

	work := t.TempDir()
	t.Setenv("CGO_ENABLED", "0")
	t.Setenv("GOPROXY", "off")
	req := Request{
		EngineDir:    engineDir(t),
		EngineModule: engineModule,
		EngineGo:     engineGo(t),
		SDKPackage:   engineModule + "/worker/policies",
		WorkDir:      work,
		PoliciesDir:  root,
		GoVersion:    runtime.Version(),
		BuildFlags:   []string{"-trimpath"},
		Policies: []PolicyInput{
			{ID: "new/v1.0.0", Dir: filepath.Join(root, "new/v1.0.0"), Request: true},
			{ID: "old/v1.0.0", Dir: filepath.Join(root, "old/v1.0.0"), Request: true, Cached: true},
			{ID: "plain/v1.0.0", Dir: filepath.Join(root, "plain/v1.0.0"), Request: true, Cached: true},
		},
	}
	resp, err := check(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 1 || resp.Results[0].ID != "new/v1.0.0" {
		t.Fatalf("results: %+v", resp.Results)
	}
	if problems := resp.Results[0].Problems; len(problems) > 0 {
		t.Errorf("new/v1.0.0 was not checked against dep v1.1.0: %+v", problems)
	}
	used, err := os.ReadFile(filepath.Join(work, "imports", "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(used), "old/v1.0.0") || strings.Contains(string(used), "plain/v1.0.0") {
		t.Errorf("the imports' workspace should hold old (a requirement) and not plain:\n%s", used)
	}
}
