package main

import (
	"fmt"
	"go/version"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

// check runs every check on every policy. Policies whose go.mod or syntax is broken are
// left out of the shared workspace so one bad policy cannot hide the others' problems.
func check(req Request) (*Response, error) {
	resp := &Response{Results: make([]*Result, 0, len(req.Policies))}
	healthy := map[string]*Result{} // module path -> result
	inputs := map[string]PolicyInput{}
	seenModule := map[string]string{}
	goLine := "1.21"
	engine := &Module{Path: req.EngineModule, GoVersion: req.EngineGo}
	for _, in := range req.Policies {
		res := &Result{ID: in.ID, GoFiles: []string{}, Imports: []string{}, TestGoFiles: []string{}, TestImports: []string{}, Problems: []Problem{}}
		if !in.Cached {
			resp.Results = append(resp.Results, res)
		}
		mod, problems := readModule(req, in)
		res.Module = mod
		res.Problems = append(res.Problems, problems...)
		res.Problems = append(res.Problems, parseSources(in.Dir, res)...)
		if mod == nil || len(res.Problems) > 0 {
			continue
		}
		if mod.Path == engine.Path || strings.HasPrefix(mod.Path, engine.Path+"/") {
			res.Problems = append(res.Problems, Problem{Code: "gomod-module-path", File: "go.mod", Line: 1,
				Message: fmt.Sprintf("module path %s lies inside the engine's module %s; give the policy a module path of its own", mod.Path, engine.Path)})
			continue
		}
		if other, dup := seenModule[mod.Path]; dup {
			res.Problems = append(res.Problems, Problem{Code: "gomod-duplicate-module", File: "go.mod", Line: 1,
				Message: fmt.Sprintf("module path %s is also used by %s; every policy version needs its own module path", mod.Path, other)})
			continue
		}
		seenModule[mod.Path] = in.ID
		healthy[mod.Path] = res
		inputs[mod.Path] = in
		if mod.GoVersion != "" && version.Compare("go"+mod.GoVersion, "go"+goLine) > 0 {
			goLine = mod.GoVersion
		}
	}
	if len(healthy) == 0 {
		return resp, nil
	}
	if err := typeCheck(req, engine, healthy, inputs, goLine); err != nil {
		return nil, err
	}
	return resp, nil
}

// typeCheck type-checks every healthy policy package the caller has no answer for, in a
// workspace of all healthy policies (their requirements decide every policy's versions).
func typeCheck(req Request, engine *Module, healthy map[string]*Result, inputs map[string]PolicyInput, goLine string) error {
	if version.Compare("go"+engine.GoVersion, "go"+goLine) > 0 {
		goLine = engine.GoVersion
	}
	// GOTOOLCHAIN=local: a policy must never make the builder download another Go.
	env := append(os.Environ(), "GOWORK="+filepath.Join(req.WorkDir, "go.work"), "GOTOOLCHAIN=local", "GOFLAGS=")
	if err := writeWork(req, engine, healthy, inputs, sortedKeys(healthy), goLine); err != nil {
		return err
	}
	// Usually the module graph loads and the packages with it. When anything fails, the
	// graph is checked on its own first, so a broken one is blamed on the policies whose
	// requirements break it rather than on every package.
	pkgs, err := loadHealthy(req, engine, env, healthy, inputs, goLine)
	if err != nil || anyListError(pkgs) {
		if err := pruneModuleGraph(req, engine, env, healthy, inputs, goLine); err != nil {
			return err
		}
		pkgs, err = loadHealthy(req, engine, env, healthy, inputs, goLine)
		if err != nil {
			return fmt.Errorf("loading packages: %w", err)
		}
	}
	for _, pkg := range pkgs {
		res, ok := healthy[pkg.PkgPath]
		if !ok {
			continue
		}
		dir := inputs[pkg.PkgPath].Dir
		// When Go located the problem (parse or type error), the list error that repeats
		// the compiler's output adds nothing but an absolute path.
		located := false
		for _, e := range pkg.Errors {
			located = located || e.Kind == packages.ParseError || e.Kind == packages.TypeError
		}
		for _, e := range pkg.Errors {
			if !located || e.Kind != packages.ListError {
				res.Problems = append(res.Problems, packageProblem(dir, e))
			}
		}
		if len(pkg.Errors) > 0 || pkg.Types == nil {
			continue
		}
		res.Problems = append(res.Problems, checkFactory(req.SDKPackage, dir, pkg, inputs[pkg.PkgPath])...)
	}
	return nil
}

// loadHealthy loads the healthy policies the caller has no answer for.
func loadHealthy(req Request, engine *Module, env []string, healthy map[string]*Result, inputs map[string]PolicyInput, goLine string) ([]*packages.Package, error) {
	paths := unknownPolicies(healthy, inputs)
	// parseSources read the imports of every Go file: the packages' imports, unless build
	// constraints leave a file out.
	guess := map[string]bool{}
	for _, p := range paths {
		for _, imp := range healthy[p].Imports {
			if imp != "unsafe" {
				guess[imp] = true
			}
		}
	}
	importEnv := func(imported map[string]bool) ([]string, error) {
		return depsWork(req, engine, env, healthy, inputs, imported, goLine)
	}
	return loadPolicies(req.WorkDir, env, req.BuildFlags, newWorkspace(req, engine, healthy, inputs), paths, guess, importEnv)
}

// depsWork writes a go.work for loading what the policies import, and returns env with
// it: the engine, the policies that can move a module's version (a requirement other
// than the engine, or a replace) and those whose modules hold an imported package. A
// policy that requires only the engine selects no version, so every imported package
// resolves as in the workspace of all policies, and Go reads a few modules instead of
// hundreds (most of the time the load took).
func depsWork(req Request, engine *Module, env []string, healthy map[string]*Result, inputs map[string]PolicyInput, imported map[string]bool, goLine string) ([]string, error) {
	var use []string
	for _, p := range sortedKeys(healthy) {
		if movesVersions(healthy[p].Module, engine.Path) || holdsImport(p, imported) {
			use = append(use, p)
		}
	}
	dir := filepath.Join(req.WorkDir, "imports")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "go.work")
	if err := writeWorkFile(path, req, engine, healthy, inputs, use, goLine); err != nil {
		return nil, err
	}
	return append(env, "GOWORK="+path), nil
}

// movesVersions says whether a policy's go.mod can change the version of any module but
// the engine's (which the workspace holds).
func movesVersions(mod *Module, enginePath string) bool {
	if len(mod.Replaces) > 0 {
		return true
	}
	for _, r := range mod.Requires {
		if r[0] != enginePath {
			return true
		}
	}
	return false
}

// holdsImport says whether module p holds one of the imported packages.
func holdsImport(p string, imported map[string]bool) bool {
	for imp := range imported {
		if imp == p || strings.HasPrefix(imp, p+"/") {
			return true
		}
	}
	return false
}

// unknownPolicies are the healthy policies the caller has no answer for, sorted.
func unknownPolicies(healthy map[string]*Result, inputs map[string]PolicyInput) []string {
	var unknown []string
	for _, p := range sortedKeys(healthy) {
		if !inputs[p].Cached {
			unknown = append(unknown, p)
		}
	}
	return unknown
}

func anyListError(pkgs []*packages.Package) bool {
	for _, pkg := range pkgs {
		for _, e := range pkg.Errors {
			if e.Kind == packages.ListError {
				return true
			}
		}
	}
	return false
}

// pruneModuleGraph removes from healthy, with a problem each, the policies whose
// requirements keep the workspace's module graph from loading (a dependency needing a
// newer Go, a missing go.sum entry), one round per error Go names, and rewrites the
// go.work over those left.
func pruneModuleGraph(req Request, engine *Module, env []string, healthy map[string]*Result, inputs map[string]PolicyInput, goLine string) error {
	for round := 0; len(healthy) > 0 && round <= len(inputs); round++ {
		culprits, message := moduleGraph(req, env, healthy)
		if len(culprits) == 0 {
			return nil
		}
		for _, c := range culprits {
			healthy[c].Problems = append(healthy[c].Problems, Problem{Code: "gomod-graph", File: "go.mod", Message: message})
			delete(healthy, c)
		}
		if err := writeWork(req, engine, healthy, inputs, sortedKeys(healthy), goLine); err != nil {
			return err
		}
	}
	return nil
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// packageProblem locates a go/packages error ("file:line:col: msg") relative to dir.
func packageProblem(dir string, e packages.Error) Problem {
	code := map[packages.ErrorKind]string{
		packages.ParseError: "go-syntax",
		packages.TypeError:  "go-type",
	}[e.Kind]
	if code == "" {
		code = "go-load"
	}
	p := Problem{Code: code, Message: e.Msg}
	pos := e.Pos
	if pos != "" && pos != "-" {
		parts := strings.Split(pos, ":")
		p.File = relTo(dir, parts[0])
		if len(parts) > 1 {
			fmt.Sscanf(parts[1], "%d", &p.Line)
		}
	}
	return p
}

func relTo(dir, file string) string {
	if rel, err := filepath.Rel(dir, file); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return filepath.Base(file)
}

func sortedKeys(m map[string]*Result) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeWork writes the go.work over the engine and the given policies. Policies require
// the engine at versions no module proxy has; each is pinned to the engine directory so a
// graph with non-workspace modules needs no download.
func writeWork(req Request, engine *Module, healthy map[string]*Result, inputs map[string]PolicyInput, paths []string, goLine string) error {
	return writeWorkFile(filepath.Join(req.WorkDir, "go.work"), req, engine, healthy, inputs, paths, goLine)
}

// writeWorkFile writes writeWork's go.work to path.
func writeWorkFile(path string, req Request, engine *Module, healthy map[string]*Result, inputs map[string]PolicyInput, paths []string, goLine string) error {
	// Absolute, as the go.work in WorkDir reads them, wherever this one is.
	abs := func(dir string) string {
		if filepath.IsAbs(dir) {
			return dir
		}
		return filepath.Join(req.WorkDir, dir)
	}
	var work strings.Builder
	fmt.Fprintf(&work, "go %s\n\nuse %s\n", goLine, quote(abs(req.EngineDir)))
	engineVersions := map[string]bool{}
	for _, p := range paths {
		fmt.Fprintf(&work, "use %s\n", quote(abs(inputs[p].Dir)))
		for _, r := range healthy[p].Module.Requires {
			if r[0] == engine.Path {
				engineVersions[r[1]] = true
			}
		}
	}
	versions := make([]string, 0, len(engineVersions))
	for v := range engineVersions {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	for _, v := range versions {
		fmt.Fprintf(&work, "replace %s %s => %s\n", engine.Path, v, quote(abs(req.EngineDir)))
	}
	return os.WriteFile(path, []byte(work.String()), 0o644)
}

// moduleGraph runs `go list -m all` over the workspace. On failure it returns the
// policies that require or replace the module Go names ("go: MODULE@VERSION: ..."), or
// all of them when none does, with Go's message (policies-root paths made relative).
func moduleGraph(req Request, env []string, healthy map[string]*Result) ([]string, string) {
	cmd := exec.Command("go", "list", "-m", "all")
	cmd.Dir = req.WorkDir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil, ""
	}
	// Go prints policy directories absolute or relative to the go.work; either way they
	// read best relative to the policies root, as the user knows them.
	message := strings.TrimSpace(string(out))
	root, _ := filepath.Abs(req.PoliciesDir)
	prefixes := []string{root + string(filepath.Separator)}
	if rel, rerr := filepath.Rel(req.WorkDir, root); rerr == nil {
		prefixes = append(prefixes, rel+string(filepath.Separator))
	}
	for _, prefix := range prefixes {
		message = strings.ReplaceAll(message, prefix, "")
	}
	module := ""
	if rest, ok := strings.CutPrefix(message, "go: "); ok {
		module, _, _ = strings.Cut(rest, "@")
	}
	var culprits []string
	for _, p := range sortedKeys(healthy) {
		mod := healthy[p].Module
		for _, r := range append(append([][2]string{}, mod.Requires...), mod.Replaces...) {
			if module != "" && (r[0] == module || strings.HasPrefix(r[0], module+"@")) {
				culprits = append(culprits, p)
				break
			}
		}
	}
	if len(culprits) == 0 {
		culprits = sortedKeys(healthy)
	}
	return culprits, message
}
