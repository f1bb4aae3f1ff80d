package main

import (
	"fmt"
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/packages"
)

const wantFactory = "func GetPolicy(metadata policies.PolicyMetadata, params map[string]interface{}) (policies.Policy, error)"

// checkFactory checks GetPolicy against the SDK's Factory type and the types it returns
// against the interfaces of the phases the policy declares.
func checkFactory(sdkPath, dir string, pkg *packages.Package, in PolicyInput) []Problem {
	obj := pkg.Types.Scope().Lookup("GetPolicy")
	if obj == nil {
		return []Problem{{Code: "factory-missing", Message: "package " + pkg.Name + " does not declare GetPolicy; want " + wantFactory}}
	}
	file, line := position(dir, pkg, obj)
	fn, ok := obj.(*types.Func)
	if !ok {
		return []Problem{{Code: "factory-signature", File: file, Line: line, Message: "GetPolicy is not a function; want " + wantFactory}}
	}
	var sdk *types.Package
	for _, imp := range pkg.Types.Imports() {
		if imp.Path() == sdkPath {
			sdk = imp
		}
	}
	if sdk == nil {
		return []Problem{{Code: "factory-signature", File: file, Line: line,
			Message: fmt.Sprintf("GetPolicy has type %s; want %s (the package does not import %s)", typeString(pkg, fn.Type()), wantFactory, sdkPath)}}
	}
	factory := sdk.Scope().Lookup("Factory")
	if factory == nil || !types.Identical(fn.Type(), factory.Type().Underlying()) {
		return []Problem{{Code: "factory-signature", File: file, Line: line,
			Message: fmt.Sprintf("GetPolicy has type %s; want %s", typeString(pkg, fn.Type()), wantFactory)}}
	}
	var problems []Problem
	returned := returnedTypes(pkg, fn)
	for _, phase := range []struct {
		wanted bool
		iface  string
	}{{in.Request, "RequestPolicy"}, {in.Response, "ResponsePolicy"}} {
		if !phase.wanted {
			continue
		}
		ifaceObj := sdk.Scope().Lookup(phase.iface)
		if ifaceObj == nil {
			continue
		}
		iface, _ := ifaceObj.Type().Underlying().(*types.Interface)
		if iface == nil {
			continue
		}
		if len(returned) == 0 {
			// GetPolicy returns only interface values: accept the package when one of its
			// own types implements the interface, since that is what it can return.
			if !declaresImplementation(pkg, iface) {
				problems = append(problems, Problem{Code: "factory-returns-unknown", File: file, Line: line,
					Message: fmt.Sprintf("no type of package %s implements policies.%s, which policy.yaml's %s phase needs", pkg.Name, phase.iface, phaseName(phase.iface))})
			}
			continue
		}
		for _, t := range returned {
			if missing, _ := types.MissingMethod(t, iface, true); missing != nil {
				problems = append(problems, Problem{Code: "interface-missing", File: file, Line: line,
					Message: fmt.Sprintf("GetPolicy returns %s, which does not implement policies.%s (missing method %s); policy.yaml declares the %s phase",
						typeString(pkg, t), phase.iface, missing.Name(), phaseName(phase.iface))})
			}
		}
	}
	return problems
}

// returnedTypes collects the concrete (non-interface, non-nil) types of the first result
// of every return statement directly in GetPolicy's body.
func returnedTypes(pkg *packages.Package, fn *types.Func) []types.Type {
	var decl *ast.FuncDecl
	for _, f := range pkg.Syntax {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && pkg.TypesInfo.Defs[fd.Name] == fn {
				decl = fd
			}
		}
	}
	if decl == nil || decl.Body == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []types.Type
	ast.Inspect(decl.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ReturnStmt:
			if len(n.Results) == 0 {
				return true
			}
			t := pkg.TypesInfo.TypeOf(n.Results[0])
			if t == nil || types.IsInterface(t) {
				return true
			}
			if b, ok := t.(*types.Basic); ok && b.Kind() == types.UntypedNil {
				return true
			}
			if key := t.String(); !seen[key] {
				seen[key] = true
				out = append(out, t)
			}
		}
		return true
	})
	return out
}

func position(dir string, pkg *packages.Package, obj types.Object) (string, int) {
	pos := pkg.Fset.Position(obj.Pos())
	return relTo(dir, pos.Filename), pos.Line
}

func typeString(pkg *packages.Package, t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string {
		if p == pkg.Types {
			return ""
		}
		return p.Name()
	})
}

func phaseName(iface string) string {
	if iface == "ResponsePolicy" {
		return "response"
	}
	return "request"
}

// declaresImplementation reports whether a named type T of the package, or *T,
// implements iface.
func declaresImplementation(pkg *packages.Package, iface *types.Interface) bool {
	scope := pkg.Types.Scope()
	for _, name := range scope.Names() {
		tn, ok := scope.Lookup(name).(*types.TypeName)
		if !ok || types.IsInterface(tn.Type()) {
			continue
		}
		if types.Implements(tn.Type(), iface) || types.Implements(types.NewPointer(tn.Type()), iface) {
			return true
		}
	}
	return false
}
