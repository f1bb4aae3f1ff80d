"""The facts file's shape. Every fact names where it was read (`provenance`):
`owner/repo@ref:path:line` for a file in a snapshot, `MODULE.bazel:line` for this project's."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Dep:
    name: str
    version: str
    provenance: str


@dataclass(frozen=True)
class Release:
    """One published (module, version): what resolution reads from its MODULE.bazel."""

    provenance: str
    compatibility_level: int
    bazel_compatibility: list[str]
    # Non-dev bazel_deps, in file order.
    deps: list[Dep]
    # Where its sources live: "owner/repo" and the tag of its source archive.
    repository: str
    tag: str


@dataclass(frozen=True)
class ModuleFacts:
    versions: list[str]
    provenance: str
    yanked: dict[str, str]
    releases: dict[str, Release]


@dataclass(frozen=True)
class Registry:
    commit: str
    date: str
    provenance: str
    modules: dict[str, ModuleFacts]


@dataclass(frozen=True)
class Attr:
    # The attr.<type> constructor (or Bazel's own type, mapped to the same names).
    type: str
    mandatory: bool
    # A literal default, or the default expression's source text (default_source=True).
    default: Any
    default_source: bool
    values: list[Any] | None
    provenance: str
    # Providers its targets must carry (source names, e.g. "GoInfo").
    providers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Precondition:
    """`if <condition>: fail(<message>)` in a rule implementation or macro."""

    condition: str
    # Attribute (rule) or parameter (macro) names the condition reads.
    uses: list[str]
    message: str
    provenance: str


@dataclass(frozen=True)
class Rule:
    name: str
    provenance: str
    executable: bool
    test: bool
    attrs: dict[str, Attr]
    preconditions: list[Precondition]


@dataclass(frozen=True)
class Param:
    mandatory: bool
    default: Any
    default_source: bool
    provenance: str
    # Rule attributes the parameter is passed to unchanged (keyword of the same name or not).
    forwarded_to: list[str] = field(default_factory=list)
    # Types the macro tests the parameter for (`types.is_dict(x)`: "dict") and converts.
    accepts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Macro:
    name: str
    provenance: str
    params: dict[str, Param]
    # The name of its `**kwargs` parameter, if any.
    kwargs: str | None
    # Ids (keys of Facts.rules) of the rules that receive `**kwargs`.
    forwards: list[str]
    # Attributes the macro sets itself on those rules (so a caller need not).
    sets: list[str]
    preconditions: list[Precondition]


@dataclass(frozen=True)
class TagClass:
    provenance: str
    attrs: dict[str, Attr]


@dataclass(frozen=True)
class Extension:
    provenance: str
    tag_classes: dict[str, TagClass]


@dataclass(frozen=True)
class Symbol:
    # rule, macro, function, provider, module_extension, repository_rule, aspect, value
    kind: str
    provenance: str
    # Key into Facts.rules / macros / extensions for those kinds.
    ref: str | None = None


@dataclass(frozen=True)
class BzlFile:
    module: str
    version: str
    provenance: str
    exports: dict[str, Symbol]


@dataclass(frozen=True)
class Function:
    """A Bazel built-in function (glob, bazel_dep, ...): its parameters."""

    provenance: str
    params: dict[str, Param]
    # The parameters that may be passed by position, in order (the file's keys are sorted).
    positional: list[str]
    # Whether it takes further positional (`*args`) or keyword (`**kwargs`) arguments.
    varargs: bool
    kwargs: bool


@dataclass(frozen=True)
class BazelFacts:
    version: str
    provenance: str
    # Attributes Bazel adds to every Starlark rule, to executable ones, to test ones.
    common_attrs: dict[str, Attr]
    executable_attrs: dict[str, Attr]
    test_attrs: dict[str, Attr]
    # Native rules used in BUILD files and macros (alias, platform), common attributes included.
    native_rules: dict[str, Rule]
    build_functions: dict[str, Function]
    module_functions: dict[str, Function]


@dataclass(frozen=True)
class GazelleFacts:
    # The value go_deps uses for a module with no override and no per-path default.
    fallbacks: dict[str, Any]
    # DEFAULT_DIRECTIVES_BY_PATH etc.: module path → value, each with its provenance.
    directives_by_path: dict[str, list[str]]
    build_file_generation_by_path: dict[str, str]
    build_extra_args_by_path: dict[str, list[str]]
    provenance: dict[str, str]
    # Where go_deps reads a go.mod's go.sum, and the calls that make it do so.
    go_sum_reads: list[str]


@dataclass(frozen=True)
class Source:
    """One snapshot read: the module version, its repository and the git ref read."""

    module: str
    version: str
    repository: str
    ref: str
    note: str = ""


@dataclass(frozen=True)
class Facts:
    schema: int
    command: str
    registry: Registry
    pins: dict[str, Dep]
    bazel: BazelFacts
    files: dict[str, BzlFile]
    rules: dict[str, Rule]
    macros: dict[str, Macro]
    extensions: dict[str, Extension]
    gazelle: GazelleFacts
    sources: list[Source]
    # Rules taken from real Bazel's starlark_doc_extract, each with why the static reader
    # could not evaluate it.
    from_doc_extract: list[str]

    def dump(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"


def _attrs(raw: dict[str, Any]) -> dict[str, Attr]:
    return {k: Attr(**v) for k, v in raw.items()}


def _rule(raw: dict[str, Any]) -> Rule:
    return Rule(
        **{
            **raw,
            "attrs": _attrs(raw["attrs"]),
            "preconditions": [Precondition(**p) for p in raw["preconditions"]],
        }
    )


def _function(raw: dict[str, Any]) -> Function:
    return Function(**{**raw, "params": {k: Param(**v) for k, v in raw["params"].items()}})


def load(path: Path) -> Facts:
    raw = json.loads(path.read_text())
    if raw.get("schema") != SCHEMA_VERSION:
        raise ValueError(f"{path}: schema {raw.get('schema')}, expected {SCHEMA_VERSION}")
    reg = raw["registry"]
    registry = Registry(
        commit=reg["commit"],
        date=reg["date"],
        provenance=reg["provenance"],
        modules={
            name: ModuleFacts(
                versions=m["versions"],
                provenance=m["provenance"],
                yanked=m["yanked"],
                releases={
                    v: Release(**{**r, "deps": [Dep(**d) for d in r["deps"]]})
                    for v, r in m["releases"].items()
                },
            )
            for name, m in reg["modules"].items()
        },
    )
    bz = raw["bazel"]
    return Facts(
        schema=raw["schema"],
        command=raw["command"],
        registry=registry,
        pins={k: Dep(**v) for k, v in raw["pins"].items()},
        bazel=BazelFacts(
            version=bz["version"],
            provenance=bz["provenance"],
            common_attrs=_attrs(bz["common_attrs"]),
            executable_attrs=_attrs(bz["executable_attrs"]),
            test_attrs=_attrs(bz["test_attrs"]),
            native_rules={k: _rule(v) for k, v in bz["native_rules"].items()},
            build_functions={k: _function(v) for k, v in bz["build_functions"].items()},
            module_functions={k: _function(v) for k, v in bz["module_functions"].items()},
        ),
        files={
            k: BzlFile(**{**v, "exports": {s: Symbol(**x) for s, x in v["exports"].items()}})
            for k, v in raw["files"].items()
        },
        rules={k: _rule(v) for k, v in raw["rules"].items()},
        macros={
            k: Macro(
                **{
                    **v,
                    "params": {p: Param(**x) for p, x in v["params"].items()},
                    "preconditions": [Precondition(**p) for p in v["preconditions"]],
                }
            )
            for k, v in raw["macros"].items()
        },
        extensions={
            k: Extension(
                provenance=v["provenance"],
                tag_classes={
                    t: TagClass(provenance=x["provenance"], attrs=_attrs(x["attrs"]))
                    for t, x in v["tag_classes"].items()
                },
            )
            for k, v in raw["extensions"].items()
        },
        gazelle=GazelleFacts(**raw["gazelle"]),
        sources=[Source(**s) for s in raw["sources"]],
        from_doc_extract=raw["from_doc_extract"],
    )
