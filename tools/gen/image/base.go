package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// LayoutPrefix names a base read from a local OCI image layout directory.
const LayoutPrefix = "oci-layout:"

// base is the resolved base image: one image per requested platform.
type base struct {
	ref    string
	images map[string]v1.Image
}

func (b *base) describe() string {
	if b.ref == "" {
		return "builtin"
	}
	return b.ref
}

// resolveBase finds the base for every platform of spec: the builder's own minimal base
// when none is named, else a local OCI layout, else a registry image pinned by digest
// (pulled once into spec.Cache, read from there afterwards, so later builds are offline).
func resolveBase(ctx context.Context, spec *Spec) (*base, error) {
	switch {
	case spec.Base == "":
		return builtinBase(spec)
	case strings.HasPrefix(spec.Base, LayoutPrefix):
		dir, digest, _ := strings.Cut(strings.TrimPrefix(spec.Base, LayoutPrefix), "@")
		idx, err := fromLayout(dir, digest)
		if err != nil {
			return nil, fmt.Errorf("base %s: %w", spec.Base, err)
		}
		return pick(spec, idx)
	default:
		idx, err := pullCached(ctx, spec)
		if err != nil {
			return nil, err
		}
		return pick(spec, idx)
	}
}

// baseError is a base the user named that cannot serve the build (not pinned, no such
// layout entry, a platform missing): theirs to fix, so the tool exits with exitBadBase
// and the builder reports a usage error rather than a tool failure.
type baseError string

func (e baseError) Error() string { return string(e) }

// parseDigestRef accepts only NAME@sha256:HEX: a tag can move, so it never names a base.
func parseDigestRef(ref string) (name.Digest, error) {
	d, err := name.NewDigest(ref)
	if err != nil {
		return name.Digest{}, baseError(fmt.Sprintf("image base %q is not pinned by digest: give it as NAME@sha256:DIGEST "+
			"(a tag alone can move; `crane digest NAME:TAG` or `skopeo inspect` prints the digest)", ref))
	}
	return d, nil
}

// pullCached returns the base index (or a one-image index) named by spec.Base from the
// cache, pulling it into the cache first when it is not there.
func pullCached(ctx context.Context, spec *Spec) (v1.ImageIndex, error) {
	ref, err := parseDigestRef(spec.Base)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(spec.Cache, "base-images", strings.Replace(ref.DigestStr(), ":", "-", 1))
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		return fromLayout(dir, ref.DigestStr())
	}
	desc, err := remote.Get(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 2}))
	if err != nil {
		return nil, fmt.Errorf("pulling base %s from %s: %w", spec.Base, ref.RegistryStr(), err)
	}
	idx, err := asIndex(desc.MediaType.IsIndex(), desc.ImageIndex, desc.Image)
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", spec.Base, err)
	}
	// Check the platforms before caching: a base that cannot serve this build is no use.
	if _, err := pick(spec, idx); err != nil {
		return nil, err
	}
	if err := cacheLayout(dir, idx, desc.MediaType.IsIndex()); err != nil {
		return nil, fmt.Errorf("caching base %s in %s: %w", spec.Base, dir, err)
	}
	return fromLayout(dir, ref.DigestStr())
}

// cacheLayout writes what was pulled as an OCI layout into a temporary directory and
// renames it into place, so a cache entry is complete or absent.
func cacheLayout(dir string, idx v1.ImageIndex, isIndex bool) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".pull-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	if isIndex {
		err = p.AppendIndex(idx)
	} else {
		var img v1.Image
		img, err = onlyImage(idx)
		if err == nil {
			err = p.AppendImage(img)
		}
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) {
		// Another build cached the same digest first; its copy is as good.
		if _, statErr := os.Stat(filepath.Join(dir, "index.json")); statErr != nil {
			return err
		}
	}
	return nil
}

// fromLayout reads the entry of index.json in dir with the given digest (or its only
// entry when digest is ""), as an index.
func fromLayout(dir, digest string) (v1.ImageIndex, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("not an OCI image layout: %w", err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := top.IndexManifest()
	if err != nil {
		return nil, err
	}
	var found []v1.Descriptor
	for _, d := range m.Manifests {
		if digest == "" || d.Digest.String() == digest {
			found = append(found, d)
		}
	}
	switch {
	case len(found) == 0:
		return nil, baseError(fmt.Sprintf("%s/index.json has no entry %s", dir, digest))
	case len(found) > 1:
		return nil, baseError(fmt.Sprintf("%s/index.json has %d entries; name one as %s%s@sha256:DIGEST", dir, len(found), LayoutPrefix, dir))
	}
	d := found[0]
	return asIndex(d.MediaType.IsIndex(),
		func() (v1.ImageIndex, error) { return top.ImageIndex(d.Digest) },
		func() (v1.Image, error) { return top.Image(d.Digest) })
}

// asIndex gives a single image the shape of an index (one entry carrying its platform),
// so both kinds of base are picked from the same way.
func asIndex(isIndex bool, index func() (v1.ImageIndex, error), image func() (v1.Image, error)) (v1.ImageIndex, error) {
	if isIndex {
		return index()
	}
	img, err := image()
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	return mutate.AppendManifests(empty.Index, mutate.IndexAddendum{
		Add:        img,
		Descriptor: v1.Descriptor{Platform: cfg.Platform()},
	}), nil
}

func onlyImage(idx v1.ImageIndex) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	return idx.Image(m.Manifests[0].Digest)
}

// pick selects the image for every platform of spec from idx.
func pick(spec *Spec, idx v1.ImageIndex) (*base, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", spec.Base, err)
	}
	b := &base{ref: spec.Base, images: map[string]v1.Image{}}
	var has []string
	for _, d := range m.Manifests {
		if d.Platform != nil {
			has = append(has, d.Platform.OS+"/"+d.Platform.Architecture)
		}
	}
	for _, p := range spec.Platforms {
		var found *v1.Descriptor
		for i, d := range m.Manifests {
			if d.Platform != nil && d.Platform.OS == p.OS && d.Platform.Architecture == p.Arch {
				found = &m.Manifests[i]
				break
			}
		}
		if found == nil {
			return nil, baseError(fmt.Sprintf("base %s has no %s image (it has: %s); pick a base built for %s or drop that platform",
				spec.Base, p, strings.Join(has, ", "), p))
		}
		img, err := idx.Image(found.Digest)
		if err != nil {
			return nil, fmt.Errorf("base %s, %s: %w", spec.Base, p, err)
		}
		b.images[p.String()] = img
	}
	return b, nil
}
