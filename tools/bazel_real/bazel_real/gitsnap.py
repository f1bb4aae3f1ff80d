"""Read-only access to a git snapshot of a repository (bare or not) and export of a tree.

The snapshots may be partial: some large blobs can be absent. `export` then writes the tree
file by file and reports what it skipped, instead of failing like `git archive` does.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Extracted:
    """How a tree was written: whole by `git archive`, or file by file (blobs missing)."""

    per_file: bool
    missing: tuple[str, ...] = ()


# What `git archive` puts in place of `$Format:...$` for the only placeholder rule sets use
# (the version string of a release archive).
_DESCRIBE_PLACEHOLDER = b"$Format:%(describe:tags=true)$"


@dataclass(frozen=True)
class Snapshot:
    """A git directory; every method returns None (or False) where git fails."""

    gitdir: Path
    name: str  # "owner/repo", for reports

    def _git(self, *args: str) -> bytes | None:
        r = subprocess.run(
            ["git", "--git-dir", str(self.gitdir), *args], capture_output=True, check=False
        )
        return r.stdout if r.returncode == 0 else None

    def has_commit(self, ref: str) -> bool:
        return self._git("rev-parse", "--verify", "-q", ref + "^{commit}") is not None

    def show(self, ref: str, path: str) -> str | None:
        out = self._git("show", f"{ref}:{path}")
        return None if out is None else out.decode()

    def head(self) -> str:
        out = self._git("rev-parse", "HEAD")
        if out is None:
            raise RuntimeError(f"{self.gitdir}: not a git directory")
        return out.decode().strip()

    def extract(self, ref: str, sub: str, dest: Path) -> Extracted:
        """Write the tree of REF (only SUB's contents, if given) into DEST, like the
        release archive would hold it: `git archive` honours export-ignore and export-subst.
        """
        args = ["archive", "--format=tar", ref]
        if sub:
            args.append(sub)
        data = self._git(*args)
        if data is None:
            return Extracted(per_file=True, missing=tuple(self._export_per_file(ref, sub, dest)))
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            members = []
            for m in t.getmembers():
                if sub:
                    if not m.name.startswith(sub + "/"):
                        continue
                    m.name = m.name[len(sub) + 1 :]
                members.append(m)
            # "tar": keeps symlinks (rule sets ship some), refuses paths outside DEST.
            t.extractall(dest, members=members, filter="tar")
        return Extracted(per_file=False)

    def _export_per_file(self, ref: str, sub: str, dest: Path) -> list[str]:
        """`git archive` without failing on absent blobs; honours export-ignore and
        export-subst (the describe placeholder only) from the root .gitattributes."""
        ignore: list[str] = []
        subst: list[str] = []
        for line in (self.show(ref, ".gitattributes") or "").splitlines():
            parts = line.split("#")[0].split()
            if len(parts) >= 2:
                if "export-ignore" in parts[1:]:
                    ignore.append(parts[0].strip("/"))
                if "export-subst" in parts[1:]:
                    subst.append(parts[0].strip("/"))
        describe = (self._git("describe", "--tags", ref) or ref.encode()).strip()
        listing = self._git("ls-tree", "-r", "-z", "--full-tree", ref)
        if listing is None:
            raise RuntimeError(f"{self.name}: cannot list {ref}")
        missing: list[str] = []
        for entry in filter(None, listing.split(b"\0")):
            meta, raw_path = entry.split(b"\t", 1)
            mode, kind, sha = meta.decode().split()
            path = raw_path.decode()
            if kind != "blob" or any(path == i or path.startswith(i + "/") for i in ignore):
                continue
            rel = path
            if sub:
                if not path.startswith(sub + "/"):
                    continue
                rel = path[len(sub) + 1 :]
            content = self._git("cat-file", "blob", sha)
            if content is None:
                missing.append(path)
                continue
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            if mode == "120000":
                os.symlink(content.decode(), out)
                continue
            if path in subst:
                content = content.replace(_DESCRIBE_PLACEHOLDER, describe)
            out.write_bytes(content)
            if mode == "100755":
                out.chmod(0o755)
        return missing
