"""Loading policy.yaml safely: size cap, strict UTF-8, no duplicate keys, few aliases,
YAML 1.2 booleans, and a node tree kept for line numbers of later errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

# A policy.yaml is a few kilobytes; anything this large is a mistake or an attack.
MAX_YAML_BYTES = 256 * 1024
# Aliases have no use in policy.yaml beyond sharing a default; many aliases are the
# signature of an alias ("billion laughs") bomb.
MAX_ALIASES = 16
# policy.yaml needs a handful of levels (parameters, items, enum lists); a deeper document
# is a mistake or an attack on the recursive parsers and validators that read it.
MAX_DEPTH = 32


class YamlProblem(Exception):
    """A policy.yaml that cannot be loaded; line is 1-based, 0 when unknown."""

    def __init__(self, code: str, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line


class _StrictConstructor(yaml.constructor.SafeConstructor):
    """SafeConstructor that rejects duplicate keys."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if isinstance(key, (str, int, float, bool)) and key in seen:
                    raise YamlProblem(
                        "yaml-duplicate-key",
                        f"duplicate key {key!r} (first at line {seen[key]})",
                        line,
                    )
                if isinstance(key, (str, int, float, bool)):
                    seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _Yaml12Resolver(yaml.resolver.Resolver):
    """YAML 1.1 reads yes/no/on/off as booleans ("Norway problem"); policy.yaml follows
    YAML 1.2, where only true/false are."""


_Yaml12Resolver.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
}
_Yaml12Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


class _StrictLoader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _StrictConstructor,
    _Yaml12Resolver,
):
    """The pure-Python loader, which counts aliases as it composes and whose errors name
    the offending character or alias."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _StrictConstructor.__init__(self)
        _Yaml12Resolver.__init__(self)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                # types-PyYAML leaves Parser.peek_event untyped.
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise YamlProblem(
                    "yaml-aliases",
                    f"more than {MAX_ALIASES} YAML aliases; policy.yaml may not use alias "
                    "expansion this heavily (possible alias bomb)",
                    event.start_mark.line + 1,
                )
        return super().compose_node(parent, index)


try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml
    _fast_loader: type[_CLoader] | None = None
else:

    class _CLoader(CParser, _StrictConstructor, _Yaml12Resolver):
        """libyaml's parser: a tenth of the pure-Python parser's time, the same nodes."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _StrictConstructor.__init__(self)
            _Yaml12Resolver.__init__(self)

    _fast_loader = _CLoader


def _aliases(node: yaml.Node) -> int:
    """How many aliases a composed document holds: an alias is a second way to a node."""
    seen: set[int] = set()
    count = 0
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            count += 1
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            stack.extend(n for pair in current.value for n in pair)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return count


@dataclass(frozen=True)
class LoadedYaml:
    """A document and its text: the node tree that maps a data path to a line is composed
    again when a line is asked for, which only a problem being reported does."""

    data: Any
    text: str

    def line_of(self, path: tuple[str | int, ...]) -> int:
        """The 1-based line of the value at path, or of its nearest existing parent."""
        node = _node_tree(self.text)
        if node is None:
            return 0
        line = node.start_mark.line + 1
        for part in path:
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                        child = value_node
                        line = key_node.start_mark.line + 1
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
                line = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return line


def too_large(size: int) -> YamlProblem | None:
    """The problem of a policy.yaml of size bytes, or None when it is within the limit."""
    if size <= MAX_YAML_BYTES:
        return None
    return YamlProblem(
        "yaml-too-large", f"policy.yaml is {size} bytes; the limit is {MAX_YAML_BYTES} bytes"
    )


def load_yaml(raw: bytes) -> LoadedYaml:
    """Parse raw policy.yaml bytes; raise YamlProblem with a line when it cannot."""
    problem = too_large(len(raw))
    if problem is not None:
        raise problem
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlProblem(
            "yaml-not-utf8",
            f"policy.yaml is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            line,
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        data, node = _load(text)
    except RecursionError:
        raise YamlProblem(
            "yaml-too-deep",
            f"policy.yaml nests too deeply to load; the limit is {MAX_DEPTH} levels",
        ) from None
    depth, line = _deepest(node)
    if depth > MAX_DEPTH:
        raise YamlProblem(
            "yaml-too-deep", f"policy.yaml nests {depth} levels; the limit is {MAX_DEPTH}", line
        )
    return LoadedYaml(data, text)


@lru_cache(maxsize=4)
def _node_tree(text: str) -> yaml.Node | None:
    """The node tree of a document load_yaml loaded (so it composes without error)."""
    return _load(text)[1]


def _deepest(root: yaml.Node | None) -> tuple[int, int]:
    """How many collections deep the node tree goes, and the 1-based line where it does;
    iterative, so a deep tree cannot exhaust the stack here."""
    best, line = 0, 0
    stack = [(root, 1)] if root is not None else []
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if id(node) in seen or not isinstance(node, yaml.CollectionNode):
            continue
        seen.add(id(node))
        if depth > best:
            best, line = depth, node.start_mark.line + 1
        children = (
            [n for pair in node.value for n in pair]
            if isinstance(node, yaml.MappingNode)
            else list(node.value)
        )
        stack.extend((child, depth + 1) for child in children)
    return best, line


def _load(text: str) -> tuple[Any, yaml.Node | None]:
    """The document's data and node tree."""
    fast = _load_fast(text)
    if fast is not None:
        return fast
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except YamlProblem:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        reason = " ".join(p for p in (exc.context, exc.problem) if p)
        raise YamlProblem("yaml-syntax", f"malformed YAML: {reason}", line) from None
    except yaml.YAMLError as exc:
        raise YamlProblem("yaml-syntax", f"malformed YAML: {exc}") from None
    finally:
        loader.dispose()
    return data, node


def _load_fast(text: str) -> tuple[Any, yaml.Node | None] | None:
    """text loaded by libyaml, or None when PyYAML lacks it or the document is not
    plainly fine; the pure-Python loader then loads it again and says what is wrong in
    its own words (libyaml's name no character or alias), with the same line."""
    if _fast_loader is None:
        return None
    loader = _fast_loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        # Counted before construction expands them.
        if _aliases(node) > MAX_ALIASES:
            return None
        return loader.construct_document(node), node
    except (yaml.YAMLError, YamlProblem):
        return None
    finally:
        loader.dispose()
