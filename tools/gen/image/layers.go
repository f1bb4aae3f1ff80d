package main

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// entry is one file or directory of a layer. Every layer is written with mtime 0 and
// no owner names, so its bytes depend only on its contents.
type entry struct {
	path     string
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// layer writes entries (parents first) as a tar and lets go-containerregistry compress
// and hash it; mediaType follows the base's manifest (Docker or OCI).
func layer(entries []entry, mediaType types.MediaType) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name:    strings.TrimPrefix(e.path, "/"),
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: time.Unix(0, 0),
			Format:  tar.FormatPAX,
		}
		if e.dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(mediaType))
}

// parents lists the directories above file (without "/"), outermost first.
func parents(file string) []string {
	var dirs []string
	for d := path.Dir(file); d != "/" && d != "."; d = path.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	return dirs
}

// parseUser reads "UID:GID" (numbers, as the shared image config gives it).
func parseUser(user string) (int, int, error) {
	u, g, ok := strings.Cut(user, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("image user %q: want UID:GID, both numbers", user)
	}
	return uid, gid, nil
}

// caBundle is the Mozilla root store of the pinned golang.org/x/crypto/x509roots module
// as PEM. Roots with constraints PEM cannot carry (a distrust-after date) are left out
// rather than trusted without them.
func caBundle() []byte {
	var out bytes.Buffer
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate})
	}
	return out.Bytes()
}

// builtinBase is the base used when none is named (no registry is needed): what the
// engine relies on from distroless static's nonroot image and nothing more, for every
// platform of spec. It holds /etc/passwd and /etc/group with root and the image user as
// `nonroot`, that user's home, a world-writable /tmp and the CA certificates.
func builtinBase(spec *Spec) (*base, error) {
	uid, gid, err := parseUser(spec.Config.User)
	if err != nil {
		return nil, err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", uid, gid)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", gid)
	files := []entry{
		{path: "/etc", mode: 0o755, dir: true},
		{path: "/etc/group", mode: 0o644, data: []byte(group)},
		{path: "/etc/passwd", mode: 0o644, data: []byte(passwd)},
		{path: "/etc/ssl", mode: 0o755, dir: true},
		{path: "/etc/ssl/certs", mode: 0o755, dir: true},
		{path: "/etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: caBundle()},
		{path: "/home", mode: 0o755, dir: true},
		{path: "/home/nonroot", mode: 0o700, uid: uid, gid: gid, dir: true},
		{path: "/tmp", mode: 0o1777, dir: true},
	}
	l, err := layer(files, types.OCILayer)
	if err != nil {
		return nil, err
	}
	b := &base{images: map[string]v1.Image{}}
	for _, p := range spec.Platforms {
		img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		add := mutate.Addendum{
			Layer:     l,
			MediaType: types.OCILayer,
			History:   v1.History{CreatedBy: "policy-builder: builtin base (passwd, group, CA certificates, /tmp)"},
		}
		img, err := appendLayer(img, add, p, func(cfg *v1.ConfigFile) {
			cfg.Config.Env = []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
			}
		})
		if err != nil {
			return nil, err
		}
		b.images[p.String()] = img
	}
	return b, nil
}
