package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
)

// Spec is everything one image build needs; the Python builder writes it.
type Spec struct {
	// Base is "" (the builder's own minimal base), "NAME@sha256:HEX" (pulled through the
	// registry API) or "oci-layout:DIR[@sha256:HEX]" (a local OCI image layout).
	Base string `json:"base"`
	// Cache holds pulled bases as OCI layouts, one directory per digest.
	Cache string `json:"cache"`
	// Platforms in order; the first is the one the docker-loadable tarball carries.
	Platforms []Platform `json:"platforms"`
	Config    Config     `json:"config"`
	// Created is SOURCE_DATE_EPOCH (seconds): the config's and history's time.
	Created int64 `json:"created"`
	// LocalModules maps module paths built from local directories (the engine, the
	// policies) to those directories, where their licence files are.
	LocalModules map[string]string `json:"local_modules"`
	// ModCache is GOMODCACHE, where every other module's licence files are.
	ModCache string  `json:"mod_cache"`
	Builder  string  `json:"builder"`
	Version  string  `json:"version"`
	Output   Outputs `json:"output"`
	// RefName tags the image in the layout's index.json and, as "policy-engine:RefName"
	// (RepoTag), in the tarball.
	RefName string `json:"ref_name"`
	RepoTag string `json:"repo_tag"`
}

// Platform is one os/arch image: its binary and the build info `go version -m -json`
// read from it before any compression.
type Platform struct {
	OS        string            `json:"os"`
	Arch      string            `json:"arch"`
	Binary    string            `json:"binary"`
	BuildInfo debug.BuildInfo   `json:"build_info"`
	Labels    map[string]string `json:"labels"`
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Config is the image configuration both build paths share (rules/image_config.bzl).
type Config struct {
	User       string   `json:"user"`
	WorkDir    string   `json:"workdir"`
	Entrypoint []string `json:"entrypoint"`
	Cmd        []string `json:"cmd"`
	Ports      []string `json:"ports"`
	// BinaryPath and SBOMPath are where the engine and its SBOM go in the image.
	BinaryPath string `json:"binary_path"`
	SBOMPath   string `json:"sbom_path"`
}

// Outputs are the paths written; each is replaced whole or left as it was.
type Outputs struct {
	Layout  string `json:"layout"`
	Tarball string `json:"tarball"`
	SBOM    string `json:"sbom"`
}

func readSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(s.Platforms) == 0 {
		return nil, fmt.Errorf("%s: no platforms", path)
	}
	return &s, nil
}
