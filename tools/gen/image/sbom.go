package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/licenseclassifier/v2/assets"
	"golang.org/x/mod/module"
)

// licenseFile matches the files a module's licence is found in, at its root.
var licenseFile = regexp.MustCompile(`(?i)^(licen[cs]e|copying|unlicense)([.-].*)?$`)

// module is one entry of the build list: what was compiled in, from where.
type goModule struct {
	path, version, sum string
	// replacedFrom is the required module a replace directive swapped for this one.
	replacedFrom string
}

func (m goModule) purl() string { return "pkg:golang/" + m.path + "@" + m.version }

// buildList is the union of every platform's build list (from the binaries' build
// info), sorted; a module built from a local directory has version "(devel)" and no sum.
func buildList(spec *Spec) []goModule {
	seen := map[string]goModule{}
	for _, p := range spec.Platforms {
		for _, d := range p.BuildInfo.Deps {
			m := goModule{path: d.Path, version: d.Version, sum: d.Sum}
			if d.Replace != nil {
				m = goModule{path: d.Replace.Path, version: d.Replace.Version, sum: d.Replace.Sum, replacedFrom: d.Path + "@" + d.Version}
			}
			seen[m.purl()] = m
		}
	}
	list := make([]goModule, 0, len(seen))
	for _, m := range seen {
		list = append(list, m)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].purl() < list[j].purl() })
	return list
}

// licenseFinder detects licences with licenseclassifier's default set.
type licenseFinder struct {
	detect func([]byte) []string
}

func newLicenseFinder() (*licenseFinder, error) {
	c, err := assets.DefaultClassifier()
	if err != nil {
		return nil, fmt.Errorf("loading the licence classifier: %w", err)
	}
	return &licenseFinder{detect: func(text []byte) []string {
		var names []string
		for _, m := range c.Match(text).Matches {
			if m.MatchType == "License" {
				names = append(names, m.Name)
			}
		}
		return names
	}}, nil
}

// find returns the licences in the licence files at dir's root. It never guesses: no
// file, or no text the classifier recognises, gives no licence and the reason (which
// names no absolute path, so the SBOM is the same from any directory).
func (f *licenseFinder) find(dir string) ([]string, string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, "module source not found (neither a local module nor in the module cache)"
	}
	found := map[string]bool{}
	var files []string
	for _, e := range entries {
		if e.IsDir() || !licenseFile.MatchString(e.Name()) {
			continue
		}
		text, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err.Error()
		}
		files = append(files, e.Name())
		for _, n := range f.detect(text) {
			found[n] = true
		}
	}
	if len(files) == 0 {
		return nil, "no licence file at the module root"
	}
	if len(found) == 0 {
		return nil, "licence text not recognised in " + strings.Join(files, ", ")
	}
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, ""
}

// moduleDir is where a module's sources are: a local directory the builder named, or
// the module cache.
func moduleDir(spec *Spec, m goModule) string {
	if dir, ok := spec.LocalModules[m.path]; ok {
		return dir
	}
	escPath, err1 := module.EscapePath(m.path)
	escVersion, err2 := module.EscapeVersion(m.version)
	if err1 != nil || err2 != nil {
		return ""
	}
	return filepath.Join(spec.ModCache, escPath+"@"+escVersion)
}

func component(spec *Spec, f *licenseFinder, m goModule, typ cdx.ComponentType) cdx.Component {
	c := cdx.Component{
		BOMRef:     m.purl(),
		Type:       typ,
		Name:       m.path,
		Version:    m.version,
		PackageURL: m.purl(),
	}
	var props []cdx.Property
	if m.sum != "" {
		// The build list's h1: checksum is a SHA-256 (of the module's file tree).
		if raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(m.sum, "h1:")); err == nil {
			c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hex.EncodeToString(raw)}}
		}
		props = append(props, cdx.Property{Name: "go:module:sum", Value: m.sum})
	} else {
		props = append(props, cdx.Property{Name: "go:module:sum", Value: "none: built from a local directory"})
	}
	if m.replacedFrom != "" {
		props = append(props, cdx.Property{Name: "go:module:replaces", Value: m.replacedFrom})
	}
	names, why := f.find(moduleDir(spec, m))
	var lic cdx.Licenses
	for _, n := range names {
		lic = append(lic, cdx.LicenseChoice{License: &cdx.License{ID: n}})
	}
	if len(names) == 0 {
		// CycloneDX has no "unknown" licence; an unnamed one with the reason says so.
		lic = cdx.Licenses{{License: &cdx.License{Name: "unknown"}}}
		props = append(props, cdx.Property{Name: "policy-engine:license-unknown", Value: why})
	}
	c.Licenses = &lic
	c.Properties = &props
	return c
}

// makeSBOM is the CycloneDX SBOM of the Go modules compiled into the engine: the main
// module, every dependency of the build list and the standard library, with the build
// list's versions and checksums and the licences found in their sources.
func makeSBOM(spec *Spec) ([]byte, error) {
	f, err := newLicenseFinder()
	if err != nil {
		return nil, err
	}
	info := spec.Platforms[0].BuildInfo
	if info.Main.Path == "" {
		return nil, fmt.Errorf("%s: no Go build info (was the binary built by Go with modules?)", spec.Platforms[0].Binary)
	}
	main := component(spec, f, goModule{path: info.Main.Path, version: mainVersion(info, spec)}, cdx.ComponentTypeApplication)
	main.Name = "policy-engine"
	var comps []cdx.Component
	for _, m := range buildList(spec) {
		comps = append(comps, component(spec, f, m, cdx.ComponentTypeLibrary))
	}
	std := goModule{path: "std", version: info.GoVersion}
	stdComp := cdx.Component{
		BOMRef: std.purl(), Type: cdx.ComponentTypeLibrary, Name: "std", Version: info.GoVersion,
		PackageURL: std.purl(), Licenses: &cdx.Licenses{{License: &cdx.License{ID: "BSD-3-Clause"}}},
		Properties: &[]cdx.Property{{Name: "go:toolchain", Value: info.GoVersion}},
	}
	comps = append(comps, stdComp)
	refs := make([]string, 0, len(comps))
	for _, c := range comps {
		refs = append(refs, c.BOMRef)
	}
	bom := cdx.NewBOM()
	bom.Metadata = &cdx.Metadata{
		Timestamp: time.Unix(spec.Created, 0).UTC().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{
			{Type: cdx.ComponentTypeApplication, Name: "policy-builder", Version: spec.Builder},
		}},
		Component: &main,
	}
	bom.Components = &comps
	bom.Dependencies = &[]cdx.Dependency{{Ref: main.BOMRef, Dependencies: &refs}}
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.Encode(bom); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// mainVersion is the engine's stamped version: the main module of a workspace build
// reports "(devel)".
func mainVersion(info debug.BuildInfo, spec *Spec) string {
	if spec.Version != "" {
		return spec.Version
	}
	return info.Main.Version
}
