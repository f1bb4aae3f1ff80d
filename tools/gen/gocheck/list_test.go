package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// goListed is what `go list -json` says of a package.
type goListed struct {
	Name            string
	GoFiles         []string
	CompiledGoFiles []string
	IgnoredGoFiles  []string
	Imports         []string
	TestGoFiles     []string
	TestImports     []string
	XTestGoFiles    []string
	XTestImports    []string
	Error           *struct{ Err string }
}

// listEnv is the environment the helper gives the go command, plus extra.
func listEnv(extra ...string) []string {
	return append(append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=", "CGO_ENABLED=0"), extra...)
}

// goListDir lists the package in dir as packages.Load has go list list a policy, with
// the test files' fields too (which change nothing go list does).
func goListDir(t *testing.T, dir string, env, buildFlags []string) goListed {
	t.Helper()
	args := append(append([]string{"list", "-e", "-compiled", "-buildvcs=false", "-pgo=off",
		"-json=Name,ImportPath,Error,Dir,GoFiles,IgnoredGoFiles,CompiledGoFiles,Imports,ImportMap," +
			"TestGoFiles,XTestGoFiles,TestImports,XTestImports"}, buildFlags...), ".")
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var p goListed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("go list answered %s: %v", out, err)
	}
	return p
}

const listedPath = "example.com/p"

func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["go.mod"] = "module " + listedPath + "\n\ngo 1.24\n"
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestListAgreesWithGoList lists directories in-process and with the go command: when
// the listing keeps a package it must say what go list says of its name, files and
// imports, and when go list finds the package in error the listing must leave it to go
// list. Each case says which way it goes and whether go list finds an error, so none
// passes by leaving everything to go list or by no longer testing what it names.
func TestListAgreesWithGoList(t *testing.T) {
	const fmtFile = "package p\n\nimport \"fmt\"\n\nvar _ = fmt.Sprint\n"
	cases := []struct {
		name       string
		files      map[string]string
		env        []string
		buildFlags []string
		// inProcess: the listing keeps the package; inError: go list finds it in error.
		inProcess, inError bool
	}{
		{name: "plain", inProcess: true, files: map[string]string{
			"a.go": fmtFile,
			"b.go": "// Package p is a policy.\npackage p\n\nimport (\n\t\"strings\"\n\t_ \"unsafe\"\n)\n\nvar _ = strings.Cut\n",
		}},
		{name: "build constraints", inProcess: true, files: map[string]string{
			"a.go":        fmtFile,
			"linux.go":    "//go:build linux\n\npackage p\n\nimport \"os\"\n\nvar _ = os.Exit\n",
			"notlinux.go": "//go:build !linux\n\npackage p\n\nimport \"net\"\n\nvar _ = net.Dial\n",
			"unix.go":     "//go:build unix && !plan9\n\npackage p\n\nimport \"io\"\n\nvar _ = io.EOF\n",
			"old.go":      "// +build linux,!cgo\n\npackage p\n",
			"release.go":  "//go:build go1.21\n\npackage p\n\nimport \"slices\"\n\nvar _ = slices.Sort[[]int]\n",
			"future.go":   "//go:build go1.999\n\npackage p\n\nimport \"bufio\"\n\nvar _ = bufio.NewReader\n",
			"tagged.go":   "//go:build foo\n\npackage p\n\nimport \"bytes\"\n\nvar _ = bytes.Cut\n",
			"cgo.go":      "package p\n\nimport \"C\"\n",
			"_skip.go":    "package other\n",
			".hidden.go":  "package other\n",
			"notes.txt":   "not Go\n",
			"doc.go":      "package documentation\n",
		}},
		{name: "tags from the build flags", inProcess: true, buildFlags: []string{"-trimpath", "-tags=foo,bar"}, files: map[string]string{
			"a.go":      fmtFile,
			"tagged.go": "//go:build foo && bar\n\npackage p\n\nimport \"bytes\"\n\nvar _ = bytes.Cut\n",
			"untagged":  "",
			"nottag.go": "//go:build !foo\n\npackage p\n\nimport \"bufio\"\n\nvar _ = bufio.NewReader\n",
		}},
		{name: "tags from GOFLAGS", inProcess: true, env: []string{"GOFLAGS=-tags=foo -buildvcs=false"}, files: map[string]string{
			"a.go":      fmtFile,
			"tagged.go": "//go:build foo\n\npackage p\n\nimport \"bytes\"\n\nvar _ = bytes.Cut\n",
		}},
		{name: "test files and an external test package", inProcess: true, files: map[string]string{
			"a.go":        fmtFile,
			"a_test.go":   "package p\n\nimport \"testing\"\n\nfunc TestA(t *testing.T) {}\n",
			"x_test.go":   "package p_test\n\nimport (\n\t\"testing\"\n\n\t\"example.com/p\"\n)\n\nfunc TestX(t *testing.T) { _ = p.X }\n",
			"win_test.go": "package p\n\nimport \"syscall\"\n\nvar _ = syscall.Getpid\n",
			"tag_test.go": "//go:build integration\n\npackage p\n\nimport \"net/http\"\n\nvar _ = http.Get\n",
		}},
		{name: "GOOS and GOARCH file names", inProcess: true, files: map[string]string{
			"a.go":             fmtFile,
			"a_windows.go":     "package p\n\nimport \"os\"\n\nvar _ = os.Exit\n",
			"a_linux.go":       "package p\n\nimport \"io\"\n\nvar _ = io.EOF\n",
			"a_amd64.go":       "package p\n",
			"a_linux_arm64.go": "package p\n",
			"a_darwin_test.go": "package p\n",
			"windows.go":       "package p\n",
		}},
		{name: "another GOOS", inProcess: true, env: []string{"GOOS=windows", "GOARCH=arm64"}, files: map[string]string{
			"a.go":             fmtFile,
			"a_windows.go":     "package p\n\nimport \"os\"\n\nvar _ = os.Exit\n",
			"a_linux.go":       "package p\n\nimport \"io\"\n\nvar _ = io.EOF\n",
			"a_arm64.go":       "package p\n",
			"unix.go":          "//go:build unix\n\npackage p\n",
			"a_windows_386.go": "package p\n",
		}},
		{name: "ignore tag", inProcess: true, files: map[string]string{
			"a.go":   fmtFile,
			"gen.go": "//go:build ignore\n\npackage main\n\nimport \"os\"\n\nfunc main() { os.Exit(0) }\n",
		}},
		{name: "no Go files for this platform", inError: true, files: map[string]string{
			"a_windows.go": fmtFile,
		}},
		{name: "all files ignored", inError: true, files: map[string]string{
			"gen.go": "//go:build ignore\n\npackage p\n",
		}},
		{name: "two package names", inError: true, files: map[string]string{
			"a.go": fmtFile,
			"b.go": "package q\n",
		}},
		{name: "a test file of a third package", inError: true, files: map[string]string{
			"a.go":      fmtFile,
			"a_test.go": "package q\n",
		}},
		{name: "an invalid test file", inError: true, files: map[string]string{
			"a.go":      fmtFile,
			"a_test.go": "package p\n\nimport (\n\t\"testing\"\n",
		}},
		{name: "an invalid build constraint", inError: true, files: map[string]string{
			"a.go": fmtFile,
			"b.go": "//go:build linux &&\n\npackage p\n",
		}},
		{name: "cgo in a test", inError: true, files: map[string]string{
			"a.go":      fmtFile,
			"a_test.go": "package p\n\nimport \"C\"\n",
		}},
		{name: "file names equal but for case", inError: true, files: map[string]string{
			"a.go": fmtFile,
			"A.go": "package p\n",
		}},
		{name: "a file name go list refuses", inError: true, files: map[string]string{
			"a.go":  fmtFile,
			"-b.go": "package p\n",
		}},
		{name: "an embed pattern", inProcess: true, files: map[string]string{
			"a.go": "package p\n\nimport _ \"embed\"\n\n//go:embed missing.txt\nvar s string\n",
		}},
		{name: "an internal import", files: map[string]string{
			"a.go":          "package p\n\nimport \"example.com/p/internal/x\"\n\nvar _ = x.X\n",
			"internal/x.go": "package x\n\nconst X = 1\n",
		}},
		{name: "an import of the policy module", files: map[string]string{
			"a.go":     "package p\n\nimport \"example.com/p/sub\"\n\nvar _ = sub.X\n",
			"sub/s.go": "package sub\n\nconst X = 1\n",
		}},
		{name: "a local import", inError: true, files: map[string]string{
			"a.go":     "package p\n\nimport \"./sub\"\n\nvar _ = sub.X\n",
			"sub/s.go": "package sub\n\nconst X = 1\n",
		}},
		{name: "a tool tag", files: map[string]string{
			"a.go": fmtFile,
			"b.go": "//go:build goexperiment.jsonv2\n\npackage p\n",
		}},
		{name: "a flag that changes the listing", buildFlags: []string{"-pgo=off"}, files: map[string]string{
			"a.go": fmtFile,
		}},
		{name: "cgo enabled", env: []string{"CGO_ENABLED=1"}, files: map[string]string{
			"a.go": fmtFile,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeModule(t, tc.files)
			env := listEnv(tc.env...)
			want := goListDir(t, dir, env, tc.buildFlags)
			if (want.Error != nil) != tc.inError {
				t.Fatalf("go list error %+v; the case expects one: %v", want.Error, tc.inError)
			}
			ws := workspace{dirs: map[string]string{listedPath: dir}, modules: []string{listedPath}}
			bp := ws.list(listContext(dir, env, tc.buildFlags), listedPath)
			if (bp != nil) != tc.inProcess {
				t.Fatalf("listed in-process: %v, want %v (go list: %+v)", bp != nil, tc.inProcess, want)
			}
			if want.Error != nil && bp != nil {
				t.Fatalf("go list says %q; the listing did not leave the package to it", want.Error.Err)
			}
			if bp == nil {
				return
			}
			pkg := listedPackage(listedPath, bp)
			var compiled []string
			for _, f := range pkg.CompiledGoFiles {
				rel, _ := filepath.Rel(dir, f)
				compiled = append(compiled, rel)
			}
			var imports []string
			for imp := range pkg.Imports {
				imports = append(imports, imp)
			}
			slices.Sort(imports)
			if bp.Name != want.Name {
				t.Errorf("Name: listed %q, go list says %q", bp.Name, want.Name)
			}
			for _, field := range []struct {
				name      string
				got, want []string
			}{
				{"GoFiles", bp.GoFiles, want.GoFiles},
				{"CompiledGoFiles", compiled, want.CompiledGoFiles},
				{"IgnoredGoFiles", bp.IgnoredGoFiles, want.IgnoredGoFiles},
				{"Imports", imports, want.Imports},
				{"TestGoFiles", bp.TestGoFiles, want.TestGoFiles},
				{"TestImports", bp.TestImports, want.TestImports},
				{"XTestGoFiles", bp.XTestGoFiles, want.XTestGoFiles},
				{"XTestImports", bp.XTestImports, want.XTestImports},
			} {
				if !slices.Equal(field.got, field.want) && len(field.got)+len(field.want) > 0 {
					t.Errorf("%s: listed %v, go list says %v", field.name, field.got, field.want)
				}
			}
		})
	}
}

func TestBuildTags(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		tags  []string
		ok    bool
	}{
		{nil, nil, true},
		{[]string{"-trimpath", "-buildvcs=false"}, nil, true},
		{[]string{"-tags=a,b"}, []string{"a", "b"}, true},
		{[]string{"--tags", "a,,b"}, []string{"a", "b"}, true},
		{[]string{"-tags=a", "-tags=b"}, []string{"b"}, true},
		{[]string{"-tags"}, nil, false},
		{[]string{"-tags=a b"}, nil, false},
		{[]string{"-race"}, nil, false},
		{[]string{"-mod=mod"}, nil, false},
		{[]string{"trimpath"}, nil, false},
	} {
		tags, ok := buildTags(tc.flags)
		if ok != tc.ok || !slices.Equal(tags, tc.tags) {
			t.Errorf("buildTags(%q) = %q, %v; want %q, %v", tc.flags, tags, ok, tc.tags, tc.ok)
		}
	}
}
