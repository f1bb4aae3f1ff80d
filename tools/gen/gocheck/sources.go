package main

import (
	"fmt"
	"go/parser"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// parseSources lists the package's non-test .go files, parses each with go/parser and
// fills the package name and imports. Syntax errors come back with file and line.
// Test files are listed with their imports too, for Bazel's go_test; they never make
// a policy invalid, since the engine is built without them.
func parseSources(dir string, res *Result) []Problem {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return []Problem{{Code: "dir-unreadable", Message: err.Error()}}
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir() && name == "testdata":
			res.Testdata = holdsFile(filepath.Join(dir, name))
		case !e.Type().IsRegular() || !strings.HasSuffix(name, ".go"):
		case strings.HasSuffix(name, "_test.go"):
			res.TestGoFiles = append(res.TestGoFiles, name)
		default:
			res.GoFiles = append(res.GoFiles, name)
		}
	}
	sort.Strings(res.GoFiles)
	sort.Strings(res.TestGoFiles)
	res.TestImports = testImports(dir, res.TestGoFiles)
	if len(res.GoFiles) == 0 {
		return []Problem{{Code: "no-go-files", Message: "no .go file in the policy directory; a policy needs at least one Go source file exporting GetPolicy"}}
	}
	var problems []Problem
	fset := token.NewFileSet()
	imports := map[string]bool{}
	names := map[string][]string{}
	for _, name := range res.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.AllErrors|parser.SkipObjectResolution)
		if err != nil {
			if list, ok := err.(scanner.ErrorList); ok {
				for _, e := range list {
					problems = append(problems, Problem{Code: "go-syntax", File: name, Line: e.Pos.Line, Message: e.Msg})
				}
			} else {
				problems = append(problems, Problem{Code: "go-syntax", File: name, Message: err.Error()})
			}
		}
		if f == nil || f.Name == nil || f.Name.Name == "_" {
			continue
		}
		names[f.Name.Name] = append(names[f.Name.Name], name)
		for _, imp := range f.Imports {
			if p, err := strconv.Unquote(imp.Path.Value); err == nil {
				imports[p] = true
			}
		}
	}
	for p := range imports {
		res.Imports = append(res.Imports, p)
	}
	sort.Strings(res.Imports)
	switch {
	case len(names) > 1:
		var parts []string
		for n, files := range names {
			parts = append(parts, fmt.Sprintf("%s (%s)", n, strings.Join(files, ", ")))
		}
		sort.Strings(parts)
		problems = append(problems, Problem{Code: "go-package-mismatch", Message: "files declare different packages: " + strings.Join(parts, "; ")})
	case len(names) == 1:
		for n, files := range names {
			res.PackageName = n
			if n == "main" {
				problems = append(problems, Problem{Code: "go-package-main", File: files[0], Line: 1, Message: "package main cannot be imported; give the policy package its own name"})
			}
		}
	}
	return problems
}

// testImports are the sorted, unique imports of the test files that parse.
func testImports(dir string, files []string) []string {
	fset := token.NewFileSet()
	seen := map[string]bool{}
	imports := []string{}
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ImportsOnly)
		if err != nil {
			continue
		}
		for _, imp := range f.Imports {
			if p, err := strconv.Unquote(imp.Path.Value); err == nil && !seen[p] {
				seen[p] = true
				imports = append(imports, p)
			}
		}
	}
	sort.Strings(imports)
	return imports
}

// holdsFile says whether a file lies anywhere under dir: Bazel refuses a glob that
// matches nothing, so an empty testdata/ gets no glob.
func holdsFile(dir string) bool {
	found := false
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	return found
}
