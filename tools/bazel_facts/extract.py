"""The whole facts file, from the snapshots: registry, Bazel's own sources, the loaded .bzl
files of the pinned rule sets, and Gazelle's defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .bazel_native import attr_kinds, read_bazel
from .docextract import ATTR_TYPES, DocEntry, DocExtracts
from .errors import FactsError
from .gazelle import read_gazelle
from .gitfs import DirTree, GitTree
from .model import SCHEMA_VERSION, Facts, Source
from .module_file import read_module_file
from .project import read_project
from .registry import read_registry, select
from .starlark import AttrV, DictV, Fallback, Reader, Repo, RuleV, Thunk, Value, ready
from .symbols import SymbolFacts

BCR_REPO = "bazelbuild/bazel-central-registry"


@dataclass(frozen=True)
class Inputs:
    project: Path
    mirror: Path
    bcr: Path
    bazel_src: Path
    doc_extracts: Path | None
    # "module@version" → git ref, for a release whose tag the snapshot lacks.
    refs: dict[str, str]
    command: str


def _snapshot(mirror: Path, repository: str) -> Path | None:
    owner_repo = repository.replace("/", "+")
    for candidate in (mirror / owner_repo / "repo" / ".git", mirror / owner_repo / "repo"):
        if repository and candidate.is_dir():
            return candidate
    return None


def extract(inputs: Inputs) -> Facts:
    project = read_project(inputs.project)
    bcr = GitTree(inputs.bcr, "HEAD", BCR_REPO)
    registry = read_registry(bcr, project.pins.values())
    selection = select(registry, project.pins.values())
    commit_tree = GitTree(inputs.bcr, registry.commit, BCR_REPO)
    repos: dict[str, Repo] = {}
    sources: list[Source] = []
    for module, version in selection.items():
        release = registry.modules[module].releases[version]
        key = f"{module}@{version}"
        ref = inputs.refs.get(key, release.tag)
        note = f"the snapshot has no tag {release.tag}; read {ref}" if key in inputs.refs else ""
        snapshot = _snapshot(inputs.mirror, release.repository)
        tree: GitTree = GitTree(snapshot or inputs.mirror, ref, release.repository or module)
        if snapshot is None or not tree.has_ref():
            # An error only once a file of this module is read.
            tree = _Unavailable(tree, key, snapshot is not None)
        path = f"modules/{module}/{version}/MODULE.bazel"
        mapping = read_module_file(commit_tree.must_read(path), commit_tree.where(path)).mapping()
        repos[module] = Repo(module, version, tree, mapping)
        if snapshot is not None:
            sources.append(Source(module, version, release.repository, ref, note))
    bazel_tools = DirTree(inputs.bazel_src / "tools", "7.7.1", "bazelbuild/bazel")
    repos["bazel_tools"] = Repo(
        "bazel_tools", project.bazel_version, bazel_tools, {"bazel_tools": "bazel_tools"}
    )
    root = Repo(
        "",
        "",
        DirTree(inputs.project, "HEAD", "."),
        project.module.mapping() | {"bazel_tools": "bazel_tools"},
    )
    docs = (
        DocExtracts.read(inputs.doc_extracts, project.bazel_version)
        if inputs.doc_extracts
        else None
    )
    kinds = attr_kinds(inputs.bazel_src, project.bazel_version)
    reader = Reader(repos, kinds, fallback=_fallback(docs, root.mapping) if docs else None)
    symbols = SymbolFacts(reader)
    for label in project.loads:
        repo, path = reader.resolve_label(root, "", label, project.loads[label])
        symbols.add_file(label, repo.module, path)
    for bzl_label, _ in project.extensions:
        if bzl_label not in symbols.out.files:
            repo, path = reader.resolve_label(
                root, "", bzl_label, project.extensions[(bzl_label, _)]
            )
            symbols.add_file(bzl_label, repo.module, path)
    for (bzl_label, name), where in project.extensions.items():
        symbol = symbols.out.files[bzl_label].exports.get(name)
        if symbol is None or symbol.kind != "module_extension":
            raise FactsError(f"{where}: {bzl_label} exports no module extension {name}")
    gazelle = read_gazelle(reader, repos["gazelle"])
    return Facts(
        schema=SCHEMA_VERSION,
        command=inputs.command,
        registry=registry,
        pins=project.pins,
        bazel=read_bazel(inputs.bazel_src, project.bazel_version),
        files=dict(sorted(symbols.out.files.items())),
        rules=dict(sorted(symbols.out.rules.items())),
        macros=dict(sorted(symbols.out.macros.items())),
        extensions=dict(sorted(symbols.out.extensions.items())),
        gazelle=gazelle,
        sources=sorted((s for s in sources if s.module in reader.used), key=lambda s: s.module),
        from_doc_extract=sorted(set(reader.substituted)),
    )


class _Unavailable(GitTree):
    def __init__(self, tree: GitTree, release: str, has_snapshot: bool) -> None:
        super().__init__(tree.git_dir, tree.ref, tree.repo)
        self.release = release
        self.has_snapshot = has_snapshot

    def read(self, path: str) -> str | None:
        if not self.has_snapshot:
            raise FactsError(
                f"{self.release}: no snapshot of its repository ({self.repo}) to read {path} from"
            )
        raise FactsError(
            f"{self.repo}: the snapshot {self.git_dir} has no ref {self.ref} for {self.release}; "
            f"pass --ref {self.release}=<nearest tag> (recorded in the facts)"
        )


def _fallback(docs: DocExtracts, root_mapping: dict[str, str]) -> Fallback:
    """Rules the static reader cannot evaluate, from real Bazel's starlark_doc_extract."""
    by_canonical: dict[str, dict[str, DocEntry]] = {}
    for label, entries in docs.files.items():
        apparent, _, rest = label[1:].partition("//")
        by_canonical[f"@{root_mapping.get(apparent, apparent)}//{rest}"] = entries

    def lookup(file_label: str, name: str) -> Value | None:
        entry = by_canonical.get(file_label, {}).get(name)
        if entry is None or entry.kind != "rule":
            return None
        where = f"bazel@{docs.bazel}:starlark_doc_extract({file_label})%{name}"
        attrs: dict[object, Thunk] = {}
        for attr in entry.attrs.values():
            if attr.type == "NAME":
                continue
            default, source = docs.literal_default(attr)
            value = AttrV(ATTR_TYPES[attr.type], attr.mandatory, default, source, None, where, [])
            attrs[attr.name] = ready(value)
        return RuleV(
            where=where,
            attrs=ready(DictV(attrs)),
            implementation=None,
            executable=entry.executable,
            test=entry.test,
            id=f"{file_label}%{name}",
        )

    return lookup
