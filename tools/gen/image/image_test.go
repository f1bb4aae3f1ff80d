package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func testSpec(t *testing.T, out string) *Spec {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "engine")
	if err := os.WriteFile(bin, []byte("not really an engine"), 0o755); err != nil {
		t.Fatal(err)
	}
	info := debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "example.com/engine"},
		Deps: []*debug.Module{{Path: "example.com/missing", Version: "v1.0.0", Sum: "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}}
	plat := func(arch string) Platform {
		return Platform{OS: "linux", Arch: arch, Binary: bin, BuildInfo: info, Labels: map[string]string{"l": arch}}
	}
	return &Spec{
		Cache:     t.TempDir(),
		Platforms: []Platform{plat("amd64"), plat("arm64")},
		Config: Config{User: "65532:65532", WorkDir: "/app", Entrypoint: []string{"/app/engine"},
			Ports: []string{"9001/tcp"}, BinaryPath: "/app/engine", SBOMPath: "/app/sbom.cdx.json"},
		Created:  1700000000,
		ModCache: t.TempDir(),
		Output: Outputs{Layout: filepath.Join(out, "image"), Tarball: filepath.Join(out, "e.tar"),
			SBOM: filepath.Join(out, "sbom.json")},
		RefName: "dev",
		RepoTag: "policy-engine:dev",
	}
}

func TestBuildIsReproducible(t *testing.T) {
	a, err := build(context.Background(), testSpec(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := build(context.Background(), testSpec(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if a.IndexDigest != b.IndexDigest || len(a.Images) != 2 {
		t.Fatalf("two builds differ: %+v %+v", a, b)
	}
	sbom, err := os.ReadFile(a.SBOM)
	if err != nil {
		t.Fatal(err)
	}
	// No source for the module: its licence is unknown, with the reason, never guessed.
	if !strings.Contains(string(sbom), `"name": "unknown"`) || !strings.Contains(string(sbom), "module source not found") {
		t.Fatalf("unknown licence not reported:\n%s", sbom)
	}
}

func TestBaseMustBePinnedByDigest(t *testing.T) {
	out := t.TempDir()
	spec := testSpec(t, out)
	spec.Base = "127.0.0.1:1/base:latest"
	if _, err := build(context.Background(), spec); err == nil || !strings.Contains(err.Error(), "not pinned by digest") {
		t.Fatalf("tag accepted: %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Fatalf("output written: %v", entries)
	}
}
