package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Result is what `build` prints: the index digest names the whole multi-platform image.
type Result struct {
	Base        string            `json:"base"`
	IndexDigest string            `json:"index_digest"`
	Images      map[string]string `json:"images"`
	Layout      string            `json:"layout"`
	Tarball     string            `json:"tarball"`
	SBOM        string            `json:"sbom"`
}

// build assembles the image of every platform on its base, puts them under one index
// and writes the layout, the tarball and the SBOM. Everything is written beside its
// target first and renamed into place only when all of it succeeded.
func build(ctx context.Context, spec *Spec) (*Result, error) {
	b, err := resolveBase(ctx, spec)
	if err != nil {
		return nil, err
	}
	sbom, err := makeSBOM(spec)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: time.Unix(spec.Created, 0).UTC()}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	result := &Result{Base: b.describe(), Images: map[string]string{}}
	var first v1.Image
	for _, p := range spec.Platforms {
		img, err := platformImage(spec, p, b.images[p.String()], sbom, created)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		digest, err := img.Digest()
		if err != nil {
			return nil, err
		}
		result.Images[p.String()] = digest.String()
		if first == nil {
			first = img
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch}},
		})
	}
	digest, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	result.IndexDigest = digest.String()
	staged, err := stage(spec, idx, first, sbom)
	defer staged.discard()
	if err != nil {
		return nil, err
	}
	if err := staged.commit(); err != nil {
		return nil, err
	}
	result.Layout, result.Tarball, result.SBOM = spec.Output.Layout, spec.Output.Tarball, spec.Output.SBOM
	return result, nil
}

// platformImage is base plus one layer (the engine and the SBOM) and the shared config.
func platformImage(spec *Spec, p Platform, baseImg v1.Image, sbom []byte, created v1.Time) (v1.Image, error) {
	binary, err := os.ReadFile(p.Binary)
	if err != nil {
		return nil, err
	}
	mt, err := baseImg.MediaType()
	if err != nil {
		return nil, err
	}
	layerType := types.OCILayer
	if mt == types.DockerManifestSchema2 {
		layerType = types.DockerLayer
	}
	var files []entry
	seen := map[string]bool{}
	for _, f := range []string{spec.Config.BinaryPath, spec.Config.SBOMPath} {
		for _, d := range parents(f) {
			if !seen[d] {
				seen[d] = true
				files = append(files, entry{path: d, mode: 0o755, dir: true})
			}
		}
	}
	files = append(files,
		entry{path: spec.Config.BinaryPath, mode: 0o755, data: binary},
		entry{path: spec.Config.SBOMPath, mode: 0o644, data: sbom})
	l, err := layer(files, layerType)
	if err != nil {
		return nil, err
	}
	add := mutate.Addendum{
		Layer:     l,
		MediaType: layerType,
		History: v1.History{
			Created:   created,
			CreatedBy: "policy-builder " + spec.Builder,
			Comment:   "the policy engine and its SBOM",
		},
	}
	return appendLayer(baseImg, add, p, func(cfg *v1.ConfigFile) {
		cfg.Created = created
		c := &cfg.Config
		c.User, c.WorkingDir = spec.Config.User, spec.Config.WorkDir
		c.Entrypoint, c.Cmd = spec.Config.Entrypoint, spec.Config.Cmd
		c.ExposedPorts = map[string]struct{}{}
		for _, port := range spec.Config.Ports {
			c.ExposedPorts[port] = struct{}{}
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for k, v := range p.Labels {
			c.Labels[k] = v
		}
	})
}

// appendLayer adds one layer to img and sets its config for platform p, changed by edit;
// img itself is left as it was (edit sees a copy of its config).
func appendLayer(img v1.Image, add mutate.Addendum, p Platform, edit func(*v1.ConfigFile)) (v1.Image, error) {
	img, err := mutate.Append(img, add)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = p.OS, p.Arch
	edit(cfg)
	return mutate.ConfigFile(img, cfg)
}

// staged outputs: temporary paths beside the final ones.
type staged struct{ pairs [][2]string }

func stage(spec *Spec, idx v1.ImageIndex, first v1.Image, sbom []byte) (*staged, error) {
	s := &staged{}
	tmp := func(final string) (string, error) {
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			return "", err
		}
		t := filepath.Join(filepath.Dir(final), fmt.Sprintf(".%s.%d.tmp", filepath.Base(final), os.Getpid()))
		os.RemoveAll(t)
		s.pairs = append(s.pairs, [2]string{t, final})
		return t, nil
	}
	dir, err := tmp(spec.Output.Layout)
	if err != nil {
		return s, err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return s, err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": spec.RefName,
	})); err != nil {
		return s, fmt.Errorf("writing the OCI layout: %w", err)
	}
	tag, err := name.NewTag(spec.RepoTag)
	if err != nil {
		return s, fmt.Errorf("tarball tag %q: %w", spec.RepoTag, err)
	}
	tarPath, err := tmp(spec.Output.Tarball)
	if err != nil {
		return s, err
	}
	if err := tarball.WriteToFile(tarPath, tag, first); err != nil {
		return s, fmt.Errorf("writing the tarball: %w", err)
	}
	sbomPath, err := tmp(spec.Output.SBOM)
	if err != nil {
		return s, err
	}
	return s, os.WriteFile(sbomPath, sbom, 0o644)
}

// commit renames every staged output into place; a directory already there is moved
// aside first and removed once the new one is in.
func (s *staged) commit() error {
	for _, pair := range s.pairs {
		old := pair[1] + ".old"
		os.RemoveAll(old)
		if err := os.Rename(pair[1], old); err != nil && !os.IsNotExist(err) {
			return err
		}
		if err := os.Rename(pair[0], pair[1]); err != nil {
			return err
		}
		os.RemoveAll(old)
	}
	s.pairs = nil
	return nil
}

func (s *staged) discard() {
	for _, pair := range s.pairs {
		os.RemoveAll(pair[0])
	}
}
