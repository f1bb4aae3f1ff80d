"""Gazelle's naming rules, so generated targets and repos get the names Gazelle and
go_deps give them (gazelle v0.53.0: v2/label/label.go ImportPathToBazelRepoName and
language/go/package.go libNameFromImportPath / libNameByConvention, "import" convention)."""

from __future__ import annotations

import re

_NON_WORD = re.compile(r"\W+")
_MAJOR_VERSION = re.compile(r"^v[0-9]+$")


def repo_name(module_path: str) -> str:
    """go_deps' repository name for a module: `github.com/golang-jwt/jwt/v5` becomes
    `com_github_golang_jwt_jwt_v5` (host labels reversed, non-word runs to `_`)."""
    parts = module_path.lower().split("/")
    host = list(reversed(parts[0].split(".")))
    return _NON_WORD.sub("_", ".".join(host + parts[1:]))


def library_name(importpath: str, package_name: str) -> str:
    """The go_library name for a package: its last import path element, skipping a major
    version suffix (`/v5`), dots turned into `_`; a command gets `_lib` appended."""
    elements = importpath.split("/")
    name = elements[-1]
    if _MAJOR_VERSION.match(name) and len(elements) > 1:
        name = elements[-2]
    name = name.replace(".", "_")
    return name + "_lib" if package_name == "main" else name


def package_label(repo: str, package: str, name: str) -> str:
    """The shortest label buildifier keeps: `//pkg` when the target is named like the
    package's last element, `@repo` when named like the repo at its root."""
    prefix = f"@{repo}" if repo else ""
    if package:
        if package.rsplit("/", 1)[-1] == name:
            return f"{prefix}//{package}"
        return f"{prefix}//{package}:{name}"
    if repo and name == repo:
        return prefix
    return f"{prefix}//:{name}"


def _label_phase(label: str) -> int:
    if label.startswith(":"):
        return 1
    if label.startswith("//"):
        return 2
    if label.startswith("@"):
        return 3
    return 0


def label_sort_key(label: str) -> tuple[int, list[str]]:
    """buildifier's order for sortable label lists (`deps`, `srcs`): local `:x` first,
    then `//...`, then `@...`, each by its `:`/`.`-separated parts."""
    return _label_phase(label), label.replace(":", ".").split(".")


def load_sort_key(module: str) -> tuple[bool, str, str]:
    """buildifier's order of load statements: other repositories (`@...`) first, then by
    package, then by file name."""
    package, _, filename = module.rpartition(":")
    return not module.startswith("@"), package, filename
