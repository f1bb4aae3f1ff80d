package main

import (
	"errors"
	"fmt"
	"go/version"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// readModule parses dir/go.mod and checks what the builder relies on: a valid module
// path, a go directive the installed toolchain can build, and local replace targets
// inside the policies root (a build must not reach into the rest of the machine).
func readModule(req Request, in PolicyInput) (*Module, []Problem) {
	path := filepath.Join(in.Dir, "go.mod")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, []Problem{{Code: "gomod-missing", File: "go.mod", Message: "go.mod is missing; every policy version is its own Go module"}}
	}
	if err != nil {
		return nil, []Problem{{Code: "gomod-unreadable", File: "go.mod", Message: err.Error()}}
	}
	// "go.mod", not the full path: messages are read relative to the policy directory.
	f, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		return nil, parseProblems(err)
	}
	var problems []Problem
	if f.Module == nil || f.Module.Mod.Path == "" {
		return nil, []Problem{{Code: "gomod-no-module", File: "go.mod", Line: 1, Message: "go.mod has no module line"}}
	}
	mod := &Module{Path: f.Module.Mod.Path, Requires: [][2]string{}, Replaces: [][2]string{}}
	if err := module.CheckImportPath(mod.Path); err != nil {
		problems = append(problems, Problem{Code: "gomod-module-path", File: "go.mod", Line: f.Module.Syntax.Start.Line,
			Message: fmt.Sprintf("module path %q is not a valid import path: %v", mod.Path, err)})
	}
	if f.Go != nil {
		mod.GoVersion = f.Go.Version
		if version.Compare("go"+f.Go.Version, req.GoVersion) > 0 {
			problems = append(problems, Problem{Code: "gomod-go-too-new", File: "go.mod", Line: f.Go.Syntax.Start.Line,
				Message: fmt.Sprintf("go.mod says 'go %s' but the builder's Go toolchain is %s; build with a newer builder or lower the go directive", f.Go.Version, strings.TrimPrefix(req.GoVersion, "go"))})
		}
	}
	for _, r := range f.Require {
		mod.Requires = append(mod.Requires, [2]string{r.Mod.Path, r.Mod.Version})
	}
	sort.Slice(mod.Requires, func(i, j int) bool { return mod.Requires[i][0] < mod.Requires[j][0] })
	root, _ := filepath.Abs(req.PoliciesDir)
	for _, r := range f.Replace {
		mod.Replaces = append(mod.Replaces, [2]string{joinVersion(r.Old), joinVersion(r.New)})
		if r.New.Version != "" || !modfile.IsDirectoryPath(r.New.Path) {
			continue
		}
		target := r.New.Path
		if !filepath.IsAbs(target) {
			target = filepath.Join(in.Dir, target)
		}
		if !inside(root, target) {
			problems = append(problems, Problem{Code: "gomod-replace-outside", File: "go.mod", Line: r.Syntax.Start.Line,
				Message: fmt.Sprintf("replace %s => %s points outside the policies directory; vendor the module under the policies directory or use a published version", r.Old.Path, r.New.Path)})
		}
	}
	return mod, problems
}

func joinVersion(v module.Version) string {
	if v.Version == "" {
		return v.Path
	}
	return v.Path + "@" + v.Version
}

// inside reports whether target, after resolving symlinks where possible, lies under root.
func inside(root, target string) bool {
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	if t, err := filepath.EvalSymlinks(target); err == nil {
		target = t
	}
	rel, err := filepath.Rel(root, filepath.Clean(target))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// parseProblems turns a modfile error list into located problems.
func parseProblems(err error) []Problem {
	var list modfile.ErrorList
	if errors.As(err, &list) {
		out := make([]Problem, 0, len(list))
		for _, e := range list {
			out = append(out, Problem{Code: "gomod-parse", File: "go.mod", Line: e.Pos.Line, Message: e.Err.Error()})
		}
		return out
	}
	return []Problem{{Code: "gomod-parse", File: "go.mod", Message: err.Error()}}
}
