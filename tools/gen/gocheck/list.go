package main

import (
	"encoding/json"
	"go/build"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/module"
	"golang.org/x/tools/go/packages"
)

// The policies are listed in-process with go/build, whose reading of a directory `go list`
// applies (its module index is a copy of it), instead of with one `go list` over every
// policy module (the helper's slowest step after the export data). A policy is left to
// go list whenever go list could say more than go/build does: an error, a tag only the go
// command's settings decide, a name go list refuses, or an import whose checks depend on
// the importer or on the rest of the workspace. Then the user reads Go's own words, as
// before. (Embed patterns are not resolved when the embedded files are not asked for.)

// workspace is what the listing needs to know of the policies in the go.work.
type workspace struct {
	// dirs holds every healthy policy's package path and directory.
	dirs map[string]string
	// modules are the module paths the go.mod files name: the engine, the policies, and
	// what they require or replace.
	modules []string
}

func newWorkspace(req Request, engine *Module, healthy map[string]*Result, inputs map[string]PolicyInput) workspace {
	ws := workspace{dirs: map[string]string{}, modules: []string{engine.Path}}
	for p, res := range healthy {
		dir := inputs[p].Dir
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(req.WorkDir, dir) // as go.work reads a relative use
		}
		ws.dirs[p] = filepath.Clean(dir)
		ws.modules = append(ws.modules, p)
		for _, r := range append(append([][2]string{}, res.Module.Requires...), res.Module.Replaces...) {
			m, _, _ := strings.Cut(r[0], "@")
			ws.modules = append(ws.modules, m)
		}
	}
	return ws
}

// listContext is the build context `go list` uses under env and buildFlags, asked of
// `go env`, or nil when only the go command can list: another Go release than the
// helper's (whose go/build would apply other rules), cgo enabled (cgo files are
// preprocessed), or a flag other than -trimpath, -buildvcs and -tags.
func listContext(dir string, env, buildFlags []string) *build.Context {
	cmd := exec.Command("go", "env", "-json", "GOOS", "GOARCH", "CGO_ENABLED", "GOFLAGS", "GOVERSION")
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	var goEnv map[string]string
	if json.Unmarshal(out, &goEnv) != nil || goEnv["GOVERSION"] != runtime.Version() || goEnv["CGO_ENABLED"] != "0" {
		return nil
	}
	// GOFLAGS come first; the command line's flags override them.
	tags, ok := buildTags(append(strings.Fields(goEnv["GOFLAGS"]), buildFlags...))
	if !ok {
		return nil
	}
	ctxt := build.Default
	ctxt.GOOS = goEnv["GOOS"]
	ctxt.GOARCH = goEnv["GOARCH"]
	ctxt.CgoEnabled = false
	ctxt.Compiler = "gc"
	// GOROOT and GOPATH only give a directory's import path, which the listing knows.
	ctxt.GOROOT = ""
	ctxt.GOPATH = ""
	ctxt.BuildTags = tags
	// The tool tags (goexperiment.*, amd64.v3, ...) follow the go command's settings;
	// a package whose files name one is left to go list.
	ctxt.ToolTags = nil
	return &ctxt
}

// buildTags are the build tags the go command's flags set, and false when a flag might
// change what go list lists.
func buildTags(flags []string) ([]string, bool) {
	var tags []string
	for i := 0; i < len(flags); i++ {
		if !strings.HasPrefix(flags[i], "-") {
			return nil, false
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(flags[i], "-"), "=")
		switch name {
		case "trimpath", "buildvcs":
		case "tags":
			if !hasValue {
				if i++; i == len(flags) {
					return nil, false
				}
				value = flags[i]
			}
			// The old space-separated and quoted forms are left to the go command.
			if strings.ContainsAny(value, " '\"") {
				return nil, false
			}
			tags = nil // a later -tags replaces an earlier one
			for t := range strings.SplitSeq(value, ",") {
				if t != "" {
					tags = append(tags, t)
				}
			}
		default:
			return nil, false
		}
	}
	return tags, true
}

// list reads the policy package at pkgPath as go list does with ctxt, or returns nil
// when go list must list it (see the top of this file).
func (ws workspace) list(ctxt *build.Context, pkgPath string) *build.Package {
	dir := ws.dirs[pkgPath]
	if ctxt == nil || !ws.plainPath(pkgPath) || strings.ContainsAny(dir, "\r\n") {
		return nil
	}
	bp, err := ctxt.ImportDir(dir, 0)
	if err != nil || !plainFiles(bp) {
		return nil
	}
	for _, tag := range bp.AllTags {
		if strings.Contains(tag, ".") && !releaseTag(tag) {
			return nil
		}
	}
	for _, imp := range bp.Imports {
		if !ws.plainImport(imp) {
			return nil
		}
	}
	return bp
}

// listedPackage is what packages.Load gives for bp, listed at pkgPath, when asked for
// names, files and imports.
func listedPackage(pkgPath string, bp *build.Package) *packages.Package {
	pkg := &packages.Package{ID: pkgPath, PkgPath: pkgPath, Name: bp.Name, Imports: map[string]*packages.Package{}}
	for _, name := range bp.GoFiles {
		pkg.GoFiles = append(pkg.GoFiles, filepath.Join(bp.Dir, name))
	}
	pkg.CompiledGoFiles = pkg.GoFiles
	for _, imp := range bp.Imports {
		pkg.Imports[imp] = &packages.Package{ID: imp, PkgPath: imp}
	}
	return pkg
}

// plainPath says whether go list resolves the package path of a policy as go/build
// would read its directory: a single package (not a pattern), a name go list accepts,
// and no other module of the workspace or its requirements that could hold the same
// package (go list would call the import ambiguous).
func (ws workspace) plainPath(p string) bool {
	if strings.Contains(p, "...") || p == "std" || p == "cmd" || p == "tool" || p == "work" || p == "all" ||
		!safeArg(p) || !safeArg(path.Base(p)) {
		return false
	}
	for _, m := range ws.modules {
		if m != p && strings.HasPrefix(p, m+"/") {
			return false
		}
	}
	return true
}

// plainImport says whether go list accepts the import of imp by a policy without checks
// of its own: not a local or invalid path, no internal or vendor element (allowed only to
// some importers), not within a policy module of the workspace (which may import the
// policy back: an import cycle).
func (ws workspace) plainImport(imp string) bool {
	if build.IsLocalImport(imp) || module.CheckImportPath(imp) != nil {
		return false
	}
	for _, elem := range strings.Split(imp, "/") {
		if elem == "internal" || elem == "vendor" {
			return false
		}
	}
	for p := imp; p != "."; p = path.Dir(p) {
		if _, ok := ws.dirs[p]; ok {
			return false
		}
	}
	return true
}

// plainFiles says whether go list accepts the names of the files it would read: no two
// equal but for case, none starting with a character it refuses. Names beyond ASCII,
// whose case folding is Unicode's, are left to go list.
func plainFiles(bp *build.Package) bool {
	seen := map[string]bool{}
	for _, list := range [][]string{bp.GoFiles, bp.CgoFiles, bp.IgnoredGoFiles, bp.IgnoredOtherFiles,
		bp.CFiles, bp.CXXFiles, bp.MFiles, bp.HFiles, bp.FFiles, bp.SFiles, bp.SwigFiles, bp.SwigCXXFiles,
		bp.SysoFiles, bp.TestGoFiles, bp.XTestGoFiles} {
		for _, name := range list {
			folded := strings.ToLower(name)
			if seen[folded] || !safeArg(name) || strings.HasPrefix(name, "_cgo_") || !ascii(name) {
				return false
			}
			seen[folded] = true
		}
	}
	return true
}

// safeArg is go list's test of a file or directory name: it must not start with a
// character that could make it a flag.
func safeArg(name string) bool {
	if name == "" {
		return false
	}
	c := name[0]
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '.' || c == '_' || c == '/' || c >= utf8.RuneSelf
}

func ascii(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// releaseTag says whether tag has the form of a release tag, go1.N.
func releaseTag(tag string) bool {
	minor, ok := strings.CutPrefix(tag, "go1.")
	return ok && minor != "" && strings.Trim(minor, "0123456789") == ""
}
