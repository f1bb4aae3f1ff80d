"""The rules the generator writes, as data: kind, name, attributes, and where the kind is
loaded from. Rendering and merging work on this form, never on pasted strings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from policy_builder.bazel.naming import label_sort_key
from policy_builder.bazel.starlark import Glob, Value, render_call

# buildifier's argument order for BUILD files ("callsort": build/tables.go NamePriority);
# attributes not listed sort at 0, by name.
_NAME_PRIORITY = {
    "name": -99,
    "size": -95,
    "timeout": -94,
    "testonly": -93,
    "src": -92,
    "srcs": -90,
    "out": -89,
    "outs": -88,
    "exports": 2,
    "runtime_deps": 3,
    "deps": 4,
}


def attr_order(key: str) -> tuple[int, str]:
    return _NAME_PRIORITY.get(key, 0), key


@dataclass(frozen=True)
class Rule:
    """One generated rule. Every attribute in `attrs` is owned by the generator: merging
    replaces it in an existing file unless the user marked it `# keep`."""

    kind: str
    name: str
    # The .bzl file that defines `kind`.
    load: str
    attrs: tuple[tuple[str, Value], ...]

    def sorted_attrs(self) -> tuple[tuple[str, Value], ...]:
        """`name` and the attributes in buildifier's order."""
        return tuple(sorted((("name", self.name), *self.attrs), key=lambda kv: attr_order(kv[0])))

    def render(self) -> str:
        return render_call(self.kind, self.sorted_attrs())


def go_library_rule(
    *,
    kind: str,
    load: str,
    name: str,
    srcs: Sequence[str],
    importpath: str,
    deps: Sequence[str],
    visibility: Sequence[str] = (),
) -> Rule:
    """A go_library (or a macro with the same attributes). Empty lists are left out, as
    Gazelle leaves them out."""
    attrs: list[tuple[str, Value]] = [
        ("srcs", tuple(sorted(srcs, key=label_sort_key))),
        ("importpath", importpath),
    ]
    if visibility:
        attrs.append(("visibility", tuple(visibility)))
    if deps:
        attrs.append(("deps", tuple(sorted(set(deps), key=label_sort_key))))
    return Rule(kind=kind, name=name, load=load, attrs=tuple(attrs))


# What Gazelle gives a go_test whose directory has files under testdata/.
TESTDATA = "testdata/**"


def test_data(files: Sequence[str], testdata: bool) -> Value | None:
    """A go_test's `data`: the named files of its directory, and all of testdata/."""
    if testdata:
        return Glob((*files, TESTDATA))
    return tuple(files) or None


def go_test_rule(
    *,
    load: str,
    name: str,
    srcs: Sequence[str],
    embed: Sequence[str],
    deps: Sequence[str],
    data: Value | None,
) -> Rule:
    """A go_test of a package's _test.go files, embedding its library (when it has one)
    as Gazelle does, so internal and external test files compile in one target."""
    attrs: list[tuple[str, Value]] = [("srcs", tuple(sorted(srcs, key=label_sort_key)))]
    if data is not None:
        attrs.append(("data", data))
    if embed:
        attrs.append(("embed", tuple(embed)))
    if deps:
        attrs.append(("deps", tuple(sorted(set(deps), key=label_sort_key))))
    return Rule(kind="go_test", name=name, load=load, attrs=tuple(attrs))
