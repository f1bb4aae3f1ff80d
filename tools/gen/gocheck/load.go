package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"runtime"
	"sort"
	"sync"

	"golang.org/x/tools/go/packages"
)

// loadPolicies loads the policy packages at paths with syntax, types and type info, as
// packages.Load does with NeedSyntax|NeedTypes|NeedTypesInfo, without compiling them.
// packages.Load asks `go list -export` for export data of every package it lists, the
// policies included, and compiling hundreds of new policies costs seconds whose output the
// type check from source then ignores. So the policies are listed without export data,
// the packages they import are loaded from export data (built or found in Go's build
// cache) in a second call, and the policies are type-checked here.
func loadPolicies(dir string, env, buildFlags []string, paths []string) ([]*packages.Package, error) {
	if len(paths) == 0 {
		return nil, nil // no pattern would mean the package in dir
	}
	listMode := packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles |
		packages.NeedImports | packages.NeedDeps
	listed, err := packages.Load(&packages.Config{Mode: listMode, Dir: dir, Env: env, BuildFlags: buildFlags}, paths...)
	if err != nil {
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
	deps := map[string]*packages.Package{}
	var sizes types.Sizes
	if len(imported) > 0 {
		// NeedImports shares one types.Package per path across all export data read, so
		// a type reached through two imports is one type.
		depMode := packages.NeedName | packages.NeedImports | packages.NeedTypes | packages.NeedTypesSizes
		loaded, err := packages.Load(&packages.Config{Mode: depMode, Dir: dir, Env: env, BuildFlags: buildFlags}, sortedSet(imported)...)
		if err != nil {
			return nil, err
		}
		for _, pkg := range loaded {
			deps[pkg.PkgPath] = pkg
			sizes = pkg.TypesSizes
		}
	}
	if sizes == nil {
		sizes = types.SizesFor("gc", runtime.GOARCH)
	}
	// Type-checking is CPU bound and the policies are independent: one worker per CPU.
	var wg sync.WaitGroup
	work := make(chan *packages.Package)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for pkg := range work {
				typeCheckPackage(pkg, deps, sizes)
			}
		})
	}
	for _, pkg := range listed {
		work <- pkg
	}
	close(work)
	wg.Wait()
	return listed, nil
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
			if dep == nil || dep.Types == nil || !dep.Types.Complete() {
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
