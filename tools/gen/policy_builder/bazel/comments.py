"""Reading the comments libcst attaches to call arguments and list elements.

libcst keeps the comment that ends an argument's line in the whitespace after that
argument's comma, and comment lines that precede the next argument in the same node, so
both are read from the separator that follows an item."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst


@dataclass(frozen=True)
class Comments:
    """Comments around one item: whole lines above it, and the one ending its line."""

    before: tuple[str, ...] = ()
    trailing: str = ""


def is_keep(comment: str) -> bool:
    """Gazelle's veto: `# keep`, optionally followed by `: reason`."""
    text = comment.lstrip("#").strip()
    return text == "keep" or text.startswith("keep:")


def split_whitespace(ws: cst.BaseParenthesizableWhitespace | None) -> tuple[str, tuple[str, ...]]:
    """(comment ending the current line, comment lines that follow it)."""
    if not isinstance(ws, cst.ParenthesizedWhitespace):
        return "", ()
    trailing = ws.first_line.comment.value if ws.first_line.comment else ""
    lines = tuple(line.comment.value for line in ws.empty_lines if line.comment)
    return trailing, lines


def _after(
    comma: cst.Comma | cst.MaybeSentinel, fallback: cst.BaseParenthesizableWhitespace | None
) -> cst.BaseParenthesizableWhitespace | None:
    # A list's last element keeps the comment ending its line in the `]`'s whitespace,
    # not in its comma's (a call's last argument keeps it in the comma's).
    if isinstance(comma, cst.Comma) and (
        fallback is None or isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace)
    ):
        return comma.whitespace_after
    return fallback


def arg_comments(call: cst.Call) -> tuple[str, list[Comments], tuple[str, ...]]:
    """For a call: the comment after `(`, each argument's comments, and comment lines left
    after the last argument."""
    opening, pending = split_whitespace(call.whitespace_before_args)
    result = []
    for arg in call.args:
        ws = _after(arg.comma, arg.whitespace_after_arg)
        trailing, following = split_whitespace(ws)
        result.append(Comments(before=pending, trailing=trailing))
        pending = following
    return opening, result, pending


def element_comments(lst: cst.List) -> list[Comments]:
    """Each list element's comments."""
    _, pending = split_whitespace(lst.lbracket.whitespace_after)
    result = []
    elements = list(lst.elements)
    for index, element in enumerate(elements):
        last = index == len(elements) - 1
        fallback = lst.rbracket.whitespace_before if last else None
        trailing, following = split_whitespace(_after(element.comma, fallback))
        result.append(Comments(before=pending, trailing=trailing))
        pending = following
    return result
