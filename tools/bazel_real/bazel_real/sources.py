"""One module version's source tree, rebuilt from a git snapshot of its repository.

The tree Bazel would get from the release archive: the version's tag exported, the BCR's
overlay files and patches applied as Bazel applies them, and the BCR's MODULE.bazel on top.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bazel_real.bcr import Bcr, snapshots_for

# Release archive URLs name their tag; try it before guessing from the version.
_URL_TAG_PATTERNS = (
    r"/releases/download/([^/]+)/",
    r"/archive/refs/tags/(.+?)\.(?:tar\.gz|zip|tar\.xz|tgz)$",
    r"/archive/([^/]+?)\.(?:tar\.gz|zip|tar\.xz|tgz)$",
)


@dataclass(frozen=True)
class Outcome:
    """One line of the registry's report: "OK name@version <- how" or why not."""

    ok: bool
    line: str


def candidate_refs(version: str, url: str) -> list[str]:
    """Tags that may hold VERSION, most likely first."""
    refs = [m.group(1) for p in _URL_TAG_PATTERNS if (m := re.search(p, url))]
    base = re.sub(r"\.bcr\.\d+$", "", version)  # a BCR-only revision of the same release
    refs += ["v" + base, base, "rules_" + base]
    return list(dict.fromkeys(refs))


def _apply_patches(bcr: Bcr, name: str, version: str, dest: Path) -> list[str]:
    spec = bcr.source(name, version)
    vdir = bcr.version_dir(name, version)
    notes = []
    for pname in spec.patches:
        patch = vdir / "patches" / pname
        r = subprocess.run(
            ["patch", f"-p{spec.patch_strip}", "-N", "--batch", "-s", "-r", "-", "-i", str(patch)],
            cwd=dest,
            capture_output=True,
            text=True,
            check=False,
        )
        if r.returncode == 0:
            notes.append(f"patch {pname} ok")
            continue
        # A patch of MODULE.bazel alone may fail on the tag's copy; the BCR's copy
        # replaces it anyway (below), so that failure is harmless.
        touched = re.findall(r"^\+\+\+ (\S+)", patch.read_text(errors="replace"), re.M)
        if all(t.endswith("MODULE.bazel") for t in touched):
            notes.append(f"patch {pname} failed on MODULE.bazel only (replaced anyway)")
        else:
            notes.append(f"patch {pname} FAILED: {(r.stdout + r.stderr).strip()[:300]}")
    return notes


def _emulate_kotlin_release(dest: Path) -> str:
    """rules_kotlin's release packager installs every BUILD.release.bazel as the package's
    BUILD.bazel (the development BUILD files load rules_pkg, a dev-only dependency)."""
    for release in dest.rglob("BUILD.release.bazel"):
        for f in ("BUILD", "BUILD.bazel"):
            (release.parent / f).unlink(missing_ok=True)
        release.rename(release.parent / "BUILD.bazel")
    return "release layout emulated (BUILD.release.bazel -> BUILD.bazel)"


def _export(
    bcr: Bcr, mirror: Path, name: str, version: str, dest: Path, ref_override: str | None
) -> str | None:
    """Export the version's tag into DEST; how it was done, or None if no snapshot has it."""
    spec = bcr.source(name, version)
    # strip_prefix is the archive's top directory, plus a subdirectory for modules that
    # live below a repository's root.
    sub = spec.strip_prefix.split("/", 1)[1] if "/" in spec.strip_prefix else ""
    refs = [ref_override] if ref_override else candidate_refs(version, spec.url)
    for snap in snapshots_for(bcr.repositories(name), mirror):
        for ref in refs:
            if not snap.has_commit(ref):
                continue
            got = snap.extract(ref, sub, dest)
            what = f"{snap.name} {ref}{' ' + sub if sub else ''}"
            how = f"git archive {what}"
            if got.per_file:
                skipped = ", ".join(got.missing) or "none"
                how = f"per-file export {what} (blobs absent, skipped: {skipped})"
            if ref_override:
                how += " [STAND-IN REF: the snapshot has no tag for this version]"
            return how
    return None


def extract(
    bcr: Bcr,
    mirror: Path,
    name: str,
    version: str,
    dest: Path,
    ref_override: str | None = None,
    extra_dir: Path | None = None,
) -> Outcome:
    """Write name@version's source tree into DEST (replaced if present)."""
    key = f"{name}@{version}"
    if not (bcr.version_dir(name, version) / "source.json").is_file():
        return Outcome(False, f"MISSING-IN-BCR {key}")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    if extra_dir is not None:
        # a source tree obtained some other way (a distribution's copy of the release)
        shutil.copytree(extra_dir, dest, symlinks=True, dirs_exist_ok=True)
        how: str | None = f"extra-dir {extra_dir}"
    else:
        repos = bcr.repositories(name)
        if not snapshots_for(repos, mirror):
            shutil.rmtree(dest)
            return Outcome(False, f"NO-SOURCE {key} (repository {repos} has no snapshot)")
        how = _export(bcr, mirror, name, version, dest, ref_override)
        if how is None:
            shutil.rmtree(dest)
            url = bcr.source(name, version).url
            tried = [ref_override] if ref_override else candidate_refs(version, url)
            return Outcome(False, f"NO-TAG {key} (tried {tried} in {repos})")
    # Bazel's order: overlay files, then patches, and the registry's MODULE.bazel wins.
    vdir = bcr.version_dir(name, version)
    for rel in bcr.source(name, version).overlay:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(vdir / "overlay" / rel, dest / rel)
    notes = _apply_patches(bcr, name, version, dest)
    if name == "rules_kotlin":
        notes.append(_emulate_kotlin_release(dest))
    shutil.copy(vdir / "MODULE.bazel", dest / "MODULE.bazel")
    # A local_path repository needs a boundary file; Bazel 7 wants REPO.bazel.
    (dest / "REPO.bazel").touch()
    return Outcome(True, f"OK {key} <- {how}{'; ' + '; '.join(notes) if notes else ''}")
