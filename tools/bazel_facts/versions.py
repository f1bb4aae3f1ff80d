"""Bazel module versions: ordering as the Bazel Central Registry's resolver orders them, and
`bazel_compatibility` constraints."""

from __future__ import annotations

import re
from functools import total_ordering

_VERSION = re.compile(r"^([a-zA-Z0-9.]*)(?:-([a-zA-Z0-9.-]+))?(?:\+[a-zA-Z0-9.-]+)?$")


@total_ordering
class Version:
    """Release identifiers compare one by one (digits numerically, and below letters); a
    shorter release that is a prefix is lower; a pre-release is lower than its release; the
    empty version (an override) is higher than every other."""

    def __init__(self, text: str) -> None:
        match = _VERSION.match(text)
        if match is None:
            raise ValueError(f"not a Bazel module version: {text!r}")
        self.text = text
        self.release = tuple(_identifier(p) for p in match.group(1).split(".") if p)
        self.prerelease = tuple(_identifier(p) for p in (match.group(2) or "").split(".") if p)

    def _key(self) -> tuple[int, tuple[tuple[int, int, str], ...], int, tuple[object, ...]]:
        return (
            0 if self.release else 1,
            self.release,
            0 if self.prerelease else 1,
            self.prerelease,
        )

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Version({self.text!r})"


def _identifier(part: str) -> tuple[int, int, str]:
    return (0, int(part), "") if part.isdigit() else (1, 0, part)


_CONSTRAINT = re.compile(r"^(>=|<=|>|<|-)(\d+\.\d+\.\d+)$")


def satisfies(bazel_version: str, constraint: str) -> bool:
    """Whether `bazel_version` meets one `bazel_compatibility` entry (`>=7.1.0`, `-7.0.0`)."""
    match = _CONSTRAINT.match(constraint)
    if match is None:
        raise ValueError(f"not a bazel_compatibility constraint: {constraint!r}")
    op, bound = match.groups()
    have, want = Version(bazel_version), Version(bound)
    return {
        ">=": have >= want,
        "<=": have <= want,
        ">": have > want,
        "<": have < want,
        "-": have != want,
    }[op]
