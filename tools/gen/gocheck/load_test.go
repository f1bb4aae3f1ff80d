package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

// writeWorkspace writes modules (directory -> file -> text, each with a go.mod naming
// example.com/<directory> unless it has its own) and a go.work using them all into a new
// directory.
func writeWorkspace(t *testing.T, modules map[string]map[string]string) string {
	t.Helper()
	root := t.TempDir()
	work := "go 1.24\n"
	for mod, files := range modules {
		work += "use ./" + mod + "\n"
		if _, ok := files["go.mod"]; !ok {
			files["go.mod"] = "module example.com/" + mod + "\n\ngo 1.24\n"
		}
		for name, text := range files {
			path := filepath.Join(root, mod, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(root, "go.work"), []byte(work), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// listing is what the type check reads of a listed package, errors from go list included.
func listing(pkg *packages.Package) string {
	imports := make([]string, 0, len(pkg.Imports))
	for path, imp := range pkg.Imports {
		imports = append(imports, path+"="+imp.PkgPath)
	}
	slices.Sort(imports)
	var errs []string
	for _, e := range pkg.Errors {
		if e.Kind == packages.ListError {
			errs = append(errs, e.Pos+": "+e.Msg)
		}
	}
	return fmt.Sprintf("name %s\nfiles %q\nimports %q\nlist errors %q", pkg.Name, pkg.CompiledGoFiles, imports, errs)
}

func policyImporting(imports ...string) map[string]string {
	text := "package policy\n\nimport (\n"
	for _, imp := range imports {
		text += "\t_ " + fmt.Sprintf("%q", imp) + "\n"
	}
	return map[string]string{"policy.go": text + ")\n"}
}

// TestLoadPoliciesListsAsGoList loads policies of every kind the listing meets in a
// workspace and compares what the type check then reads of each with what go list alone
// gives (the helper's listing before it listed in-process): the same names, files,
// imports and errors, whichever way each policy was listed.
func TestLoadPoliciesListsAsGoList(t *testing.T) {
	root := writeWorkspace(t, map[string]map[string]string{
		"lib": {
			"lib.go":           "package lib\n\nconst X = 1\n",
			"cmd/tool/main.go": "package main\n\nfunc main() {}\n",
			"internal/x/x.go":  "package x\n",
		},
		"good":     policyImporting("fmt", "example.com/lib"),
		"plain":    {"a.go": "package plain\n", "a_test.go": "package plain_test\n\nimport _ \"example.com/plain\"\n"},
		"program":  policyImporting("example.com/lib/cmd/tool"),
		"internal": policyImporting("example.com/lib/internal/x"),
		"missing":  policyImporting("strings", "example.com/nowhere/pkg"),
		"windows":  {"a_windows.go": "package windows\n"},
		"cycle1":   policyImporting("example.com/cycle2"),
		"cycle2":   policyImporting("example.com/cycle1"),
		"other":    policyImporting("example.com/good"),
		"embed":    {"a.go": "package embed\n\nimport _ \"embed\"\n\n//go:embed missing.txt\nvar s string\n"},
	})
	env := listEnv("GOWORK="+filepath.Join(root, "go.work"), "GOPROXY=off")
	ws := workspace{dirs: map[string]string{}, modules: []string{"example.com/lib"}}
	var paths []string
	for _, mod := range []string{"cycle1", "cycle2", "embed", "good", "internal", "missing", "other", "plain", "program", "windows"} {
		path := "example.com/" + mod
		ws.dirs[path] = filepath.Join(root, mod)
		ws.modules = append(ws.modules, path)
		paths = append(paths, path)
	}
	want, err := goList(root, env, nil, paths)
	if err != nil {
		t.Fatal(err)
	}
	_, inProcess, err := listPolicies(root, env, nil, ws, paths)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"example.com/good", "example.com/plain", "example.com/program", "example.com/missing", "example.com/embed"} {
		if !inProcess[p] {
			t.Errorf("%s was left to go list", p)
		}
	}
	sameEnv := func(map[string]bool) ([]string, error) { return env, nil }
	got, err := loadPolicies(root, env, nil, ws, paths, nil, sameEnv)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]*packages.Package{}
	for _, pkg := range got {
		byPath[pkg.PkgPath] = pkg
	}
	if len(got) != len(want) {
		t.Errorf("listed %d packages, go list %d", len(got), len(want))
	}
	for _, w := range want {
		g := byPath[w.PkgPath]
		if g == nil {
			t.Errorf("%s: not listed", w.PkgPath)
			continue
		}
		if gl, wl := listing(g), listing(w); gl != wl {
			t.Errorf("%s:\nlisted:\n%s\ngo list:\n%s", w.PkgPath, gl, wl)
		}
	}
	for _, p := range []string{"example.com/program", "example.com/internal", "example.com/windows", "example.com/cycle1"} {
		if !strings.Contains(listing(byPath[p]), "list errors [\"") {
			t.Errorf("%s: go list no longer finds the error the case is for:\n%s", p, listing(byPath[p]))
		}
	}
}

// TestListPoliciesLeavesImportFreePoliciesToGoList: with no import to load, no go
// command would look at the workspace, so go list lists the policies as before.
func TestListPoliciesLeavesImportFreePoliciesToGoList(t *testing.T) {
	root := writeWorkspace(t, map[string]map[string]string{"a": {"a.go": "package a\n"}})
	env := listEnv("GOWORK="+filepath.Join(root, "go.work"), "GOPROXY=off")
	ws := workspace{dirs: map[string]string{"example.com/a": filepath.Join(root, "a")}, modules: []string{"example.com/a"}}
	listed, inProcess, err := listPolicies(root, env, nil, ws, []string{"example.com/a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(inProcess) != 0 || len(listed) != 1 || listed[0].Name != "a" {
		t.Errorf("listed %v, in-process %v", listed, inProcess)
	}
}

// TestLoadPoliciesReportsABrokenModuleGraph: a requirement needing a newer Go stops the
// go command before it lists anything; the load fails as go list's listing does, so the
// caller blames the policy whose requirements break the graph.
func TestLoadPoliciesReportsABrokenModuleGraph(t *testing.T) {
	a := policyImporting("example.com/dep")
	a["go.mod"] = "module example.com/a\n\ngo 1.24\n\nrequire example.com/dep v0.0.0\n\nreplace example.com/dep => ../dep\n"
	root := writeWorkspace(t, map[string]map[string]string{
		"a": a,
		"b": {
			"go.mod":    "module example.com/b\n\ngo 1.24\n\nrequire example.com/newgo v0.0.0\n\nreplace example.com/newgo => ../newgo\n",
			"policy.go": "package b\n",
		},
	})
	// Modules outside the workspace: importing one makes Go load the whole module graph.
	for name, text := range map[string]string{
		"newgo/go.mod": "module example.com/newgo\n\ngo 1.99\n",
		"dep/go.mod":   "module example.com/dep\n\ngo 1.24\n",
		"dep/dep.go":   "package dep\n",
	} {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := listEnv("GOWORK="+filepath.Join(root, "go.work"), "GOPROXY=off")
	ws := workspace{dirs: map[string]string{"example.com/a": filepath.Join(root, "a"), "example.com/b": filepath.Join(root, "b")},
		modules: []string{"example.com/a", "example.com/b", "example.com/dep", "example.com/newgo"}}
	paths := []string{"example.com/a", "example.com/b"}
	_, want := goList(root, env, nil, paths)
	if want == nil || !strings.Contains(want.Error(), "requires go >= 1.99") {
		t.Fatalf("go list no longer fails as the case expects: %v", want)
	}
	sameEnv := func(map[string]bool) ([]string, error) { return env, nil }
	if _, err := loadPolicies(root, env, nil, ws, paths, map[string]bool{"example.com/dep": true}, sameEnv); err == nil || err.Error() != want.Error() {
		t.Errorf("load error %v, go list's %v", err, want)
	}
}
