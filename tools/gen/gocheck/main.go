// Command gocheck is the policy builder's Go helper. It reads one JSON request on stdin
// naming every policy directory, and answers on stdout with one JSON result per policy
// (but those the caller has an answer for): what go.mod says (read by
// golang.org/x/mod/modfile), the package's name, files and imports, and every problem Go's
// own parser and type checker find, including whether GetPolicy has the SDK's factory
// signature and whether the type it returns implements the phases the policy declares.
// All policies are type-checked together over a go.work that uses the engine and every
// policy whose go.mod and syntax are sound.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

// Request is what the Python validator sends.
type Request struct {
	// EngineDir is the engine module (holds the SDK package).
	EngineDir string `json:"engine_dir"`
	// EngineModule and EngineGo are the engine go.mod's module path and go directive, as
	// the builder read them (`go mod edit -json`): the one reader of that file.
	EngineModule string `json:"engine_module"`
	EngineGo     string `json:"engine_go"`
	// SDKPackage is the import path of the policy SDK.
	SDKPackage string `json:"sdk_package"`
	// WorkDir is a scratch directory for the go.work this helper writes.
	WorkDir string `json:"work_dir"`
	// PoliciesDir is the policies root; local replace targets must stay inside it.
	PoliciesDir string `json:"policies_dir"`
	// GoVersion is the installed toolchain's version, e.g. "go1.26.8".
	GoVersion string `json:"go_version"`
	// BuildFlags are the build's own flags (-trimpath): with them, and the build's
	// environment (CGO_ENABLED=0), the packages compiled for their export data are the
	// ones the build then finds in Go's build cache.
	BuildFlags []string      `json:"build_flags"`
	Policies   []PolicyInput `json:"policies"`
}

// PolicyInput is one policy directory and the phases its policy.yaml declares.
type PolicyInput struct {
	ID       string `json:"id"`
	Dir      string `json:"dir"`
	Request  bool   `json:"request"`
	Response bool   `json:"response"`
	// Cached says the caller kept this policy's answer from a run with the same inputs:
	// the policy still joins the workspace and the checks across policies, so the others
	// are checked as in a full run, but it is not type-checked and gets no result.
	Cached bool `json:"cached"`
}

// Problem is one finding, located when Go gives a position.
type Problem struct {
	Code    string `json:"code"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// Module is what go.mod declares.
type Module struct {
	Path      string      `json:"path"`
	GoVersion string      `json:"go"`
	Requires  [][2]string `json:"requires"`
	Replaces  [][2]string `json:"replaces"`
}

// Result is the answer for one policy.
type Result struct {
	ID          string   `json:"id"`
	Module      *Module  `json:"module"`
	PackageName string   `json:"package_name"`
	GoFiles     []string `json:"go_files"`
	Imports     []string `json:"imports"`
	// TestGoFiles are the _test.go files, of the package and of its external test
	// package; TestImports are their imports. Bazel's go_test needs both.
	TestGoFiles []string `json:"test_go_files"`
	TestImports []string `json:"test_imports"`
	// Testdata says the directory has files under testdata/, which tests may read.
	Testdata bool      `json:"testdata"`
	Problems []Problem `json:"problems"`
}

// Response is the helper's whole answer.
type Response struct {
	Results []*Result `json:"results"`
}

func main() {
	var req Request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintf(os.Stderr, "gocheck: reading request: %v\n", err)
		os.Exit(2)
	}
	resp, err := check(req)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gocheck: %v\n", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(resp); err != nil {
		fmt.Fprintf(os.Stderr, "gocheck: writing response: %v\n", err)
		os.Exit(1)
	}
}
