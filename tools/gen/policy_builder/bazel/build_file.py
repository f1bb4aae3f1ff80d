"""A generated BUILD file: rendered new, or merged into the file that is there.

Most files are still as the last run generated them, and a file as generated merges into
itself, so only a file someone edited is parsed. The parsing merge (build_merge) needs
libcst, whose import costs more than rendering every BUILD file of a large tree, so it is
imported only when a file needs it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from policy_builder.bazel.naming import load_sort_key
from policy_builder.bazel.rules import Rule
from policy_builder.bazel.starlark import render_load

# memo(what, compute, *inputs): compute()'s text, which depends on inputs only, perhaps
# kept from an earlier run (cache.Memo). The default computes every time.
Memo = Callable[..., str]


def no_memo(what: str, compute: Callable[[], str], *inputs: str) -> str:
    return compute()


def render_build_file(header: str, rules: Sequence[Rule]) -> str:
    """A new BUILD file: header, loads sorted by module, then the rules."""
    loads: dict[str, set[str]] = {}
    for rule in rules:
        loads.setdefault(rule.load, set()).add(rule.kind)
    parts = [header.rstrip("\n") + "\n"] if header else []
    ordered = sorted(loads.items(), key=lambda item: load_sort_key(item[0]))
    parts.append("".join(render_load(m, sorted(s)) + "\n" for m, s in ordered))
    parts.extend(rule.render() + "\n" for rule in rules)
    return "\n".join(parts)


def merge_build_file(
    existing: str, rules: Sequence[Rule], header: str = "", memo: Memo = no_memo
) -> str:
    """Merge `rules` into the BUILD file text `existing` (a new file when it is empty)."""
    fresh = render_build_file(header, rules)
    if not existing.strip() or existing == fresh:
        return fresh

    def merge() -> str:
        from policy_builder.bazel.build_merge import merge_parsed

        return merge_parsed(existing, rules)

    # The fresh text renders every rule whole, so it stands for them in the key.
    return memo("BUILD merge", merge, existing, fresh)
