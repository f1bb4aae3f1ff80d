"""A fabricated stand-in for a pulled base image: the repository `oci.pull` would write.

The real base (a distroless image pulled by digest) is not reachable offline. The stand-in
has the same files and BUILD as rules_oci's pull writes (its templates, read from the
pinned rules_oci source), but its image holds one small layer: /etc/passwd and /etc/group
with the distroless `nonroot` user (65532), which is all the engine image relies on.
Everything is deterministic (fixed mtimes, sorted JSON), so image digests are stable.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from bazel_real.pins import OciPull, PinError

_PASSWD = (
    b"root:x:0:0:root:/root:/sbin/nologin\n"
    b"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
)
_GROUP = b"root:x:0:\nnonroot:x:65532:\n"
_ENV = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
]


@dataclass(frozen=True)
class PullTemplates:
    """What rules_oci's pull.bzl writes into a pulled repository, besides the image."""

    build_file: str  # str.format template: purl, target_name, bazel_tags
    repo_file: str

    @classmethod
    def read(cls, rules_oci: Path) -> PullTemplates:
        text = (rules_oci / "oci" / "private" / "pull.bzl").read_text()
        build = re.search(r'^_BUILD_FILE_TMPL = """\\\n(.*?)"""', text, re.S | re.M)
        repo = re.search(r'rctx\.file\("REPO\.bazel", """\\\n(.*?)"""\)', text, re.S)
        if not build or not repo:
            raise PinError(f"{rules_oci}/oci/private/pull.bzl: pull templates not found")
        return cls(build.group(1), repo.group(1))

    def build_for(self, pull: OciPull, target_name: str) -> str:
        # pull.bzl formats Starlark's repr of the purl: a double-quoted string, like JSON's.
        purl = f"pkg:docker/{pull.repository}@{pull.digest}?repository_url={pull.registry}"
        return self.build_file.format(
            purl=json.dumps(purl), target_name=target_name, bazel_tags="[]"
        )


def _blob(layout: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return "sha256:" + digest, len(data)


def _layer() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for path, data in (("etc/passwd", _PASSWD), ("etc/group", _GROUP)):
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            t.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def write_layout(layout: Path, os_name: str, arch: str) -> None:
    """An OCI image layout (oci-layout, index.json, blobs/) of a one-layer image."""
    layer = _layer()
    layer_digest, layer_size = _blob(layout, gzip.compress(layer, mtime=0))
    config = {
        "architecture": arch,
        "os": os_name,
        "config": {"User": "0", "Env": _ENV, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
        "history": [{"created_by": "bazel_real stand-in"}],
    }
    config_digest, config_size = _blob(layout, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": layer_size,
            }
        ],
    }
    manifest_digest, manifest_size = _blob(layout, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "size": manifest_size,
                "digest": manifest_digest,
                "platform": {"architecture": arch, "os": os_name},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index, indent=3))
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}, indent=4))
