package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"maps"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/tools/go/packages"
)

// loadPolicies loads the policy packages at paths with syntax, types and type info, as
// packages.Load does with NeedSyntax|NeedTypes|NeedTypesInfo, without compiling them.
// packages.Load asks `go list -export` for export data of every package it lists, the
// policies included, and compiling hundreds of new policies costs seconds whose output the
// type check from source then ignores. So the policies are listed without export data
// (listPolicies), the packages they import are loaded from export data (built or found in
// Go's build cache) in a second call, and the policies are type-checked here. That load
// starts at once with guess, the imports expected, and is used when the listing finds
// exactly those; else it runs again.
//
// importEnv gives the environment the imports are loaded in (its go.work may hold fewer
// modules than env's; see depsWork).
func loadPolicies(dir string, env, buildFlags []string, ws workspace, paths []string, guess map[string]bool, importEnv func(map[string]bool) ([]string, error)) ([]*packages.Package, error) {
	if len(paths) == 0 {
		return nil, nil // no pattern would mean the package in dir
	}
	type load struct {
		pkgs []*packages.Package
		err  error
	}
	early := make(chan load, 1)
	go func() {
		pkgs, err := loadImportsIn(dir, importEnv, buildFlags, guess)
		early <- load{pkgs, err}
	}()
	listed, inProcess, err := listPolicies(dir, env, buildFlags, ws, paths)
	if err != nil {
		<-early
		return nil, err
	}
	imported := map[string]bool{}
	for _, pkg := range listed {
		for _, imp := range pkg.Imports {
			if imp.PkgPath != "unsafe" {
				imported[imp.PkgPath] = true
			}
		}
	}
	l := <-early
	loaded, err := l.pkgs, l.err
	if !maps.Equal(imported, guess) {
		loaded, err = loadImportsIn(dir, importEnv, buildFlags, imported)
	}
	if err != nil {
		return nil, err
	}
	deps := map[string]*packages.Package{}
	var sizes types.Sizes
	for _, pkg := range loaded {
		deps[pkg.PkgPath] = pkg
		sizes = pkg.TypesSizes
	}
	// With export data packages.Load does not report a go command that failed before
	// listing anything (a module graph that does not load): listing without export data
	// does, so go list lists the policies as before.
	for p := range imported {
		if deps[p] == nil && len(inProcess) > 0 {
			if listed, err = goList(dir, env, buildFlags, paths); err != nil {
				return nil, err
			}
			inProcess = nil
			break
		}
	}
	if listed, err = relistPolicies(dir, env, buildFlags, listed, inProcess, loaded, deps); err != nil {
		return nil, err
	}
	if sizes == nil {
		sizes = types.SizesFor("gc", runtime.GOARCH)
	}
	// Type-checking is CPU bound and the policies are independent.
	forEach(len(listed), func(i int) { typeCheckPackage(listed[i], deps, sizes) })
	return listed, nil
}

// loadImportsIn loads the imported packages in the environment importEnv gives for them.
func loadImportsIn(dir string, importEnv func(map[string]bool) ([]string, error), buildFlags []string, imported map[string]bool) ([]*packages.Package, error) {
	env, err := importEnv(imported)
	if err != nil {
		return nil, err
	}
	return loadImports(dir, env, buildFlags, imported)
}

// loadImports loads the imported packages from export data. NeedImports shares one
// types.Package per path across all export data read, so a type reached through two
// imports is one type.
func loadImports(dir string, env, buildFlags []string, imported map[string]bool) ([]*packages.Package, error) {
	if len(imported) == 0 {
		return nil, nil
	}
	mode := packages.NeedName | packages.NeedImports | packages.NeedTypes | packages.NeedTypesSizes
	return packages.Load(&packages.Config{Mode: mode, Dir: dir, Env: env, BuildFlags: buildFlags}, sortedSet(imported)...)
}

// forEach calls f for 0..n-1 on one worker per CPU.
func forEach(n int, f func(int)) {
	var wg sync.WaitGroup
	work := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range work {
				f(i)
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}

// listPolicies lists the policy packages at paths as packages.Load does with
// NeedName|NeedFiles|NeedCompiledGoFiles|NeedImports|NeedDeps: in-process (workspace.list)
// where go/build says all that go list would, with go list for the others. The set says
// which were listed in-process. When no go command would then run before the export data
// is loaded (every policy listed in-process, none importing anything), go list lists them
// all: it is what reports a module graph that does not load.
func listPolicies(dir string, env, buildFlags []string, ws workspace, paths []string) ([]*packages.Package, map[string]bool, error) {
	ctxt := listContext(dir, env, buildFlags)
	own := make([]*packages.Package, len(paths))
	forEach(len(paths), func(i int) {
		if bp := ws.list(ctxt, paths[i]); bp != nil {
			own[i] = listedPackage(paths[i], bp)
		}
	})
	var listed []*packages.Package
	var left []string
	inProcess := map[string]bool{}
	imports := false
	for i, p := range paths {
		pkg := own[i]
		if pkg == nil {
			left = append(left, p)
			continue
		}
		listed = append(listed, pkg)
		inProcess[p] = true
		for imp := range pkg.Imports {
			imports = imports || imp != "unsafe"
		}
	}
	if len(left) == 0 && !imports {
		listed, left, inProcess = nil, paths, map[string]bool{}
	}
	more, err := goList(dir, env, buildFlags, left)
	if err != nil {
		return nil, nil, err
	}
	return append(listed, more...), inProcess, nil
}

// relistPolicies hands to go list what only the loaded imports tell: a policy listed
// in-process that imports a main package (go list says a program cannot be imported) is
// listed again; when two package paths are equal but for case, go list refuses whichever
// it reads second, in its own order, so every policy is.
func relistPolicies(dir string, env, buildFlags []string, listed []*packages.Package, inProcess map[string]bool, loaded []*packages.Package, deps map[string]*packages.Package) ([]*packages.Package, error) {
	folded := map[string]string{}
	collision := false
	note := func(p string) {
		f := strings.ToLower(p)
		if other, ok := folded[f]; ok && other != p {
			collision = true
		}
		folded[f] = p
	}
	packages.Visit(loaded, nil, func(pkg *packages.Package) { note(pkg.PkgPath) })
	var again []string
	for _, pkg := range listed {
		note(pkg.PkgPath)
		if !inProcess[pkg.PkgPath] {
			continue
		}
		for _, imp := range pkg.Imports {
			if dep := deps[imp.PkgPath]; dep != nil && dep.Name == "main" {
				again = append(again, pkg.PkgPath)
				break
			}
		}
	}
	if collision {
		again = again[:0]
		for _, pkg := range listed {
			again = append(again, pkg.PkgPath)
		}
		sort.Strings(again)
	}
	if len(again) == 0 {
		return listed, nil
	}
	relisted, err := goList(dir, env, buildFlags, again)
	if err != nil {
		return nil, err
	}
	byPath := map[string]*packages.Package{}
	for _, pkg := range relisted {
		byPath[pkg.PkgPath] = pkg
	}
	for i, pkg := range listed {
		if p := byPath[pkg.PkgPath]; p != nil {
			listed[i] = p
		}
	}
	return listed, nil
}

// goList lists packages with `go list` (through packages.Load), without export data.
func goList(dir string, env, buildFlags []string, paths []string) ([]*packages.Package, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	mode := packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedImports | packages.NeedDeps
	return packages.Load(&packages.Config{Mode: mode, Dir: dir, Env: env, BuildFlags: buildFlags}, paths...)
}

// typeCheckPackage parses pkg's files and type-checks them, recording parse and type
// errors in pkg.Errors the way go/packages does.
func typeCheckPackage(pkg *packages.Package, deps map[string]*packages.Package, sizes types.Sizes) {
	pkg.Fset = token.NewFileSet()
	for _, name := range pkg.CompiledGoFiles {
		f, err := parser.ParseFile(pkg.Fset, name, nil, parser.AllErrors|parser.SkipObjectResolution)
		if f != nil {
			pkg.Syntax = append(pkg.Syntax, f)
		}
		if list, ok := err.(scanner.ErrorList); ok {
			for _, e := range list {
				pkg.Errors = append(pkg.Errors, packages.Error{Pos: e.Pos.String(), Msg: e.Msg, Kind: packages.ParseError})
			}
		} else if err != nil {
			pkg.Errors = append(pkg.Errors, packages.Error{Pos: name + ":1", Msg: err.Error(), Kind: packages.ParseError})
		}
	}
	pkg.TypesInfo = &types.Info{
		Types: map[ast.Expr]types.TypeAndValue{},
		Defs:  map[*ast.Ident]types.Object{},
		Uses:  map[*ast.Ident]types.Object{},
	}
	pkg.TypesSizes = sizes
	pkg.Types = types.NewPackage(pkg.PkgPath, pkg.Name)
	cfg := &types.Config{
		Importer: importerFunc(func(path string) (*types.Package, error) {
			if path == "unsafe" {
				return types.Unsafe, nil
			}
			imp := pkg.Imports[path]
			if imp == nil {
				return nil, fmt.Errorf("no metadata for %s", path)
			}
			dep := deps[imp.PkgPath]
			// A package Go could not load (no module provides it, say) comes with empty
			// types; its error says why in Go's own words.
			if dep == nil || dep.Types == nil || !dep.Types.Complete() || len(dep.Errors) > 0 {
				return nil, importError(imp, dep)
			}
			return dep.Types, nil
		}),
		Error: func(err error) {
			if e, ok := err.(types.Error); ok {
				pkg.Errors = append(pkg.Errors, packages.Error{Pos: e.Fset.Position(e.Pos).String(), Msg: e.Msg, Kind: packages.TypeError})
			}
		},
		Sizes: sizes,
	}
	// Every error reaches cfg.Error; the one returned is the first of them.
	_ = types.NewChecker(cfg, pkg.Fset, pkg.Types, pkg.TypesInfo).Files(pkg.Syntax)
}

// importError says why an imported package has no types: Go's own words when it has them.
func importError(imp, dep *packages.Package) error {
	for _, p := range []*packages.Package{dep, imp} {
		if p != nil && len(p.Errors) > 0 {
			return fmt.Errorf("%s", p.Errors[0].Msg)
		}
	}
	return fmt.Errorf("no export data for %s", imp.PkgPath)
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

func sortedSet(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
