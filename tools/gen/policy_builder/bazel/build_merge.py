"""The parsing merge: put generated rules into an existing BUILD file the way Gazelle
does. A rule is matched by name (keeping the kind the file gives it); only the attributes
the generator owns (`MERGEABLE`) are rewritten; every other attribute, comment and rule
stays as written. `# keep` on a rule, an attribute or a list element is the user's veto."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from policy_builder.bazel.comments import (
    Comments,
    arg_comments,
    element_comments,
    is_keep,
    split_whitespace,
)
from policy_builder.bazel.cst_calls import Span, after_line, parse_for_edit, statement_call
from policy_builder.bazel.errors import StarlarkEditError
from policy_builder.bazel.naming import label_sort_key, load_sort_key
from policy_builder.bazel.rules import Rule, attr_order
from policy_builder.bazel.starlark import INDENT, Value, render_load, render_value
from policy_builder.escape import starlark_string

# Attributes the generator owns once a rule exists (Gazelle's mergeable Go attributes).
# Others, such as visibility, are written when the rule is created and then left alone.
MERGEABLE = frozenset({"srcs", "importpath", "deps", "embed"})


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str


def merge_parsed(existing: str, rules: Sequence[Rule]) -> str:
    """Merge `rules` into the BUILD file text `existing` by parsing it (build_file's
    merge_build_file has taken the cases that need no parse)."""
    module, span = parse_for_edit(existing, "BUILD file")
    edits: list[_Edit] = []
    loads: dict[str, cst.Call] = {}
    calls: dict[tuple[str, str], tuple[cst.SimpleStatementLine, cst.Call]] = {}
    for stmt in module.body:
        call = statement_call(stmt)
        if call is None or not isinstance(call.func, cst.Name):
            continue
        assert isinstance(stmt, cst.SimpleStatementLine)
        if call.func.value == "load" and call.args:
            loads[_string(call.args[0].value)] = call
        else:
            name = _kwarg_string(call, "name")
            if name:
                calls[(call.func.value, name)] = (stmt, call)

    by_name = {name: found for (_, name), found in calls.items()}
    appended: list[str] = []
    # A rule whose kind the user changed (their own wrapper macro, say) is still matched
    # by name and keeps the user's kind; it needs no load of ours.
    needs_load = [r for r in rules if (r.kind, r.name) in calls or r.name not in by_name]
    edits.extend(_load_edits(existing, needs_load, loads, span, module))
    for rule in rules:
        found = by_name.get(rule.name)
        if found is None:
            appended.append(rule.render())
            continue
        stmt, call = found
        if _rule_kept(stmt, call):
            continue
        start, end = span(call)
        edits.append(_Edit(start, end, _merge_call(module, call, rule)))
    edits.extend(_stale_rule_edits(existing, rules, calls, span))

    text = _apply(existing, edits)
    for block in appended:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    return text


def _stale_rule_edits(
    existing: str,
    rules: Sequence[Rule],
    calls: dict[tuple[str, str], tuple[cst.SimpleStatementLine, cst.Call]],
    span: Span,
) -> list[_Edit]:
    """Delete rules of a generated kind that lost all their sources to a generated rule,
    e.g. a policy library left behind when its module path (and so its name) changed."""
    kinds = {rule.kind for rule in rules}
    names = {rule.name for rule in rules}
    owned = {
        src
        for rule in rules
        for key, value in rule.attrs
        if key == "srcs" and isinstance(value, tuple)
        for src in value
    }
    edits = []
    for key, (stmt, call) in calls.items():
        if key[0] not in kinds or key[1] in names or _rule_kept(stmt, call):
            continue
        srcs = next((a.value for a in call.args if a.keyword and a.keyword.value == "srcs"), None)
        if not isinstance(srcs, cst.List):
            continue
        items = [_string(element.value) for element in srcs.elements]
        if all(item and item in owned for item in items):
            start, end = span(call)
            start = existing.rfind("\n", 0, start) + 1
            for _ in stmt.leading_lines:
                start = existing.rfind("\n", 0, start - 1) + 1
            edits.append(_Edit(start, after_line(existing, end), ""))
    return edits


def _apply(text: str, edits: list[_Edit]) -> str:
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text


def _string(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        if isinstance(value, str):
            return value
    return ""


def _kwarg_string(call: cst.Call, key: str) -> str:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == key:
            return _string(arg.value)
    return ""


def _rule_kept(stmt: cst.SimpleStatementLine, call: cst.Call) -> bool:
    above = any(line.comment and is_keep(line.comment.value) for line in stmt.leading_lines)
    opening, _ = split_whitespace(call.whitespace_before_args)
    return above or (bool(opening) and is_keep(opening))


def _load_edits(
    existing: str,
    rules: Sequence[Rule],
    loads: dict[str, cst.Call],
    span: Span,
    module: cst.Module,
) -> list[_Edit]:
    """Add missing symbols to existing loads; add each new load statement where
    buildifier's order puts it among the existing ones (or before the first statement)."""
    needed: dict[str, set[str]] = {}
    for rule in rules:
        needed.setdefault(rule.load, set()).add(rule.kind)
    edits = []
    statements = list(module.body)
    load_stmts = [s for s in statements if _is_load(s)]
    for label, symbols in sorted(needed.items()):
        call = loads.get(label)
        if call is None:
            line = render_load(label, sorted(symbols)) + "\n"
            edits.append(_new_load_edit(existing, label, line, load_stmts, statements, span))
            continue
        present = {_string(arg.value) for arg in call.args[1:] if arg.keyword is None}
        aliased = [arg for arg in call.args[1:] if arg.keyword is not None]
        if symbols <= present or aliased:
            continue
        start, end = span(call)
        edits.append(_Edit(start, end, render_load(label, sorted(present | symbols))))
    return edits


def _new_load_edit(
    existing: str,
    label: str,
    line: str,
    load_stmts: Sequence[cst.CSTNode],
    statements: Sequence[cst.CSTNode],
    span: Span,
) -> _Edit:
    for stmt in load_stmts:
        call = statement_call(stmt)
        assert call is not None
        if load_sort_key(label) < load_sort_key(_string(call.args[0].value)):
            start, _ = span(stmt)
            line_start = existing.rfind("\n", 0, start) + 1
            return _Edit(line_start, line_start, line)
    if load_stmts:
        insert_at = after_line(existing, span(load_stmts[-1])[1])
        return _Edit(insert_at, insert_at, line)
    first, _ = span(statements[0]) if statements else (len(existing), 0)
    line_start = existing.rfind("\n", 0, first) + 1
    return _Edit(line_start, line_start, line + "\n")


def _is_load(stmt: cst.CSTNode) -> bool:
    call = statement_call(stmt)
    return call is not None and isinstance(call.func, cst.Name) and call.func.value == "load"


@dataclass(frozen=True)
class _Arg:
    key: str
    text: str
    comments: Comments


def _merge_call(module: cst.Module, call: cst.Call, rule: Rule) -> str:
    """The call rewritten: owned attributes from `rule` (unless `# keep`), the rest as is."""
    assert isinstance(call.func, cst.Name)
    opening, comments, dangling = arg_comments(call)
    generated = dict(rule.sorted_attrs())
    args: list[_Arg] = []
    seen: set[str] = set()
    for arg, comment in zip(call.args, comments, strict=True):
        if arg.keyword is None:
            raise StarlarkEditError(
                f"{rule.kind}({rule.name}): positional arguments are unsupported"
            )
        key = arg.keyword.value
        seen.add(key)
        original = module.code_for_node(arg.value)
        if key not in MERGEABLE or is_keep(comment.trailing):
            args.append(_Arg(key, original, comment))
        elif key in generated:
            args.append(_Arg(key, _merge_value(arg.value, generated[key]), comment))
        # An owned attribute the generator no longer produces is dropped.
    for key, generated_value in generated.items():
        if key not in seen:
            args.append(_Arg(key, render_value(generated_value, INDENT), Comments()))
    args.sort(key=lambda a: attr_order(a.key))
    lines = [f"{call.func.value}(" + (f"  {opening}" if opening else "") + "\n"]
    for merged in args:
        lines.extend(f"{INDENT}{c}\n" for c in merged.comments.before)
        trailing = f"  {merged.comments.trailing}" if merged.comments.trailing else ""
        lines.append(f"{INDENT}{merged.key} = {merged.text},{trailing}\n")
    lines.extend(f"{INDENT}{c}\n" for c in dangling)
    lines.append(")")
    return "".join(lines)


def _merge_value(node: cst.BaseExpression, value: Value) -> str:
    """A list attribute keeps its `# keep` elements next to the generated ones."""
    if not isinstance(value, tuple) or not isinstance(node, cst.List):
        return render_value(value, INDENT)
    kept: dict[str, str] = {}
    for element, comment in zip(node.elements, element_comments(node), strict=True):
        item = _string(element.value)
        if item and is_keep(comment.trailing):
            kept[item] = comment.trailing
    if not kept:
        return render_value(value, INDENT)
    items = sorted(set(value) | set(kept), key=label_sort_key)
    inner = INDENT * 2
    body = "".join(
        f"{inner}{starlark_string(item)}," + (f"  {kept[item]}" if item in kept else "") + "\n"
        for item in items
    )
    return "[\n" + body + INDENT + "]"
