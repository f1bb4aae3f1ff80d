"""Real Bazel's `starlark_doc_extract` output (text protos of ModuleInfo): used for the few
rules the static reader cannot evaluate (rules_python builds its rules through a rule-builder
API), and by the cross-check that compares every statically read rule, macro and tag class."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import FactsError

# starlark_doc_extract's AttributeType → attr.<type>.
ATTR_TYPES = {
    "INT": "int",
    "LABEL": "label",
    "STRING": "string",
    "STRING_LIST": "string_list",
    "INT_LIST": "int_list",
    "LABEL_LIST": "label_list",
    "BOOLEAN": "bool",
    "LABEL_STRING_DICT": "label_keyed_string_dict",
    "STRING_DICT": "string_dict",
    "STRING_LIST_DICT": "string_list_dict",
    "OUTPUT": "output",
    "OUTPUT_LIST": "output_list",
    "LABEL_DICT_UNARY": "string_keyed_label_dict",
}

_TOKEN = re.compile(
    r'\s*(?:(#[^\n]*)|([A-Za-z_][A-Za-z0-9_.]*)|("(?:[^"\\]|\\.)*")|(-?\d+)|([{}:\[\],<>]))'
)

Message = dict[str, list[Any]]


def parse_textproto(text: str) -> Message:
    """A small text-format reader: every field maps to the list of its values."""
    tokens = [m for m in _TOKEN.finditer(text) if m.group(1) is None]
    pos = 0

    def message(end: str | None) -> Message:
        nonlocal pos
        out: Message = {}
        while pos < len(tokens):
            tok = tokens[pos].group(0).strip()
            if tok == end:
                pos += 1
                return out
            name = tok
            pos += 1
            if tokens[pos].group(0).strip() == ":":
                pos += 1
            tok = tokens[pos].group(0).strip()
            if tok == "{":
                pos += 1
                out.setdefault(name, []).append(message("}"))
                continue
            pos += 1
            value: Any = tok
            if tok.startswith('"'):
                value = ast.literal_eval(tok)
                while pos < len(tokens) and tokens[pos].group(0).strip().startswith('"'):
                    value += ast.literal_eval(tokens[pos].group(0).strip())
                    pos += 1
            elif re.fullmatch(r"-?\d+", tok):
                value = int(tok)
            elif tok in ("true", "false"):
                value = tok == "true"
            out.setdefault(name, []).append(value)
        if end is not None:
            raise FactsError("text proto: unbalanced braces")
        return out

    return message(None)


@dataclass
class DocAttr:
    name: str
    type: str
    mandatory: bool
    default: str | None


@dataclass
class DocEntry:
    kind: str  # rule, macro/function, provider, aspect, module_extension, repository_rule
    name: str
    origin: str  # "<file label>%<name>" where it is defined
    attrs: dict[str, DocAttr] = field(default_factory=dict)
    # Tag class name → attributes, for module extensions.
    tags: dict[str, dict[str, DocAttr]] = field(default_factory=dict)
    executable: bool = False
    test: bool = False


def _attrs(items: list[Any]) -> dict[str, DocAttr]:
    out = {}
    for a in items:
        default = a.get("default_value", [None])[0]
        out[a["name"][0]] = DocAttr(
            a["name"][0], a["type"][0], bool(a.get("mandatory", [False])[0]), default
        )
    return out


def _origin(entry: Message) -> str:
    key = entry.get("origin_key", [{}])[0]
    return f"{key.get('file', [''])[0]}%{key.get('name', [''])[0]}"


def read_module_info(text: str) -> dict[str, DocEntry]:
    info = parse_textproto(text)
    out: dict[str, DocEntry] = {}
    for r in info.get("rule_info", []):
        out[r["rule_name"][0]] = DocEntry(
            "rule",
            r["rule_name"][0],
            _origin(r),
            _attrs(r.get("attribute", [])),
            executable=bool(r.get("executable", [False])[0]),
            test=bool(r.get("test", [False])[0]),
        )
    for f in info.get("func_info", []):
        params = {
            p["name"][0]: DocAttr(
                p["name"][0],
                p.get("role", ["ORDINARY"])[0],
                bool(p.get("mandatory", [False])[0]),
                p.get("default_value", [None])[0],
            )
            for p in f.get("parameter", [])
        }
        out[f["function_name"][0]] = DocEntry("function", f["function_name"][0], _origin(f), params)
    for p in info.get("provider_info", []):
        out[p["provider_name"][0]] = DocEntry("provider", p["provider_name"][0], _origin(p))
    for a in info.get("aspect_info", []):
        out[a["aspect_name"][0]] = DocEntry("aspect", a["aspect_name"][0], _origin(a))
    for r in info.get("repository_rule_info", []):
        out[r["rule_name"][0]] = DocEntry("repository_rule", r["rule_name"][0], _origin(r))
    for e in info.get("module_extension_info", []):
        tags = {t["tag_name"][0]: _attrs(t.get("attribute", [])) for t in e.get("tag_class", [])}
        out[e["extension_name"][0]] = DocEntry(
            "module_extension", e["extension_name"][0], _origin(e), tags=tags
        )
    return out


@dataclass
class DocExtracts:
    """A directory written by tools/bazel_facts/doc_extract.sh: `labels.txt` (target name,
    .bzl label per line) and `<target>.textproto` per label."""

    root: Path
    bazel: str
    files: dict[str, dict[str, DocEntry]] = field(default_factory=dict)

    @classmethod
    def read(cls, root: Path, bazel: str) -> DocExtracts:
        out = cls(root, bazel)
        for line in (root / "labels.txt").read_text().splitlines():
            name, label = line.split()
            proto = root / f"{name}.textproto"
            if proto.is_file():
                out.files[label] = read_module_info(proto.read_text())
        return out

    def literal_default(self, attr: DocAttr) -> tuple[Any, bool]:
        if attr.default is None:
            return None, False
        try:
            return ast.literal_eval(attr.default), False
        except (ValueError, SyntaxError):
            return attr.default, True
