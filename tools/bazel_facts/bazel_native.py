"""Bazel's own attributes and functions, read from Bazel's Java sources: the attributes every
Starlark rule gets (and executable and test rules), the native rules `alias` and `platform`,
BUILD-file functions (glob, exports_files, package) and MODULE.bazel functions. Read
mechanically: `attr("<name>", <TYPE>)` chains in the rule-class builders, and the
`@StarlarkMethod` / `@Param` annotations of the functions."""

from __future__ import annotations

import ast
import bisect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import FactsError
from .gitfs import DirTree
from .model import Attr, BazelFacts, Function, Param, Rule

LIB = "src/main/java/com/google/devtools/build/lib/"
BASE_RULE_CLASSES = LIB + "analysis/BaseRuleClasses.java"
STARLARK_RULES = LIB + "analysis/starlark/StarlarkRuleClassFunctions.java"
RULE_CLASS = LIB + "packages/RuleClass.java"
NATIVE_RULES = {
    "alias": LIB + "rules/Alias.java",
    "platform": LIB + "rules/platform/PlatformRule.java",
}
MODULE_FUNCTIONS = LIB + "bazel/bzlmod/ModuleFileGlobals.java"
ATTR_MODULE = LIB + "starlarkbuildapi/StarlarkAttrModuleApi.java"
BUILD_FUNCTIONS = (
    LIB + "starlarkbuildapi/StarlarkNativeModuleApi.java",
    LIB + "packages/PackageCallable.java",
)

TYPES = {
    "STRING": "string",
    "STRING_LIST": "string_list",
    "BOOLEAN": "bool",
    "INTEGER": "int",
    "LABEL": "label",
    "NODEP_LABEL": "label",
    "LABEL_LIST": "label_list",
    "NODEP_LABEL_LIST": "label_list",
    "STRING_DICT": "string_dict",
    "LICENSE": "string_list",
    "DISTRIBUTIONS": "string_list",
    "OUTPUT": "output",
    "OUTPUT_LIST": "output_list",
    "STRING_LIST_DICT": "string_list_dict",
    "LABEL_KEYED_STRING_DICT": "label_keyed_string_dict",
    "INTEGER_LIST": "int_list",
    "STRING_NO_INTERN": "string",
}
_IMPLICIT = {"string": "", "bool": False, "int": 0, "label": None, "output": None}

_TOKEN = re.compile(
    r'(?P<comment>//[^\n]*|/\*.*?\*/)|(?P<text>"""(?:.|\n)*?""")|(?P<str>"(?:[^"\\\n]|\\.)*")'
    r"|(?P<char>'(?:[^'\\]|\\.)')|(?P<id>[A-Za-z_$][A-Za-z0-9_$]*)|(?P<num>\d+)|(?P<p>\S)",
    re.DOTALL,
)


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str
    line: int


def tokens(text: str) -> list[Tok]:
    out = []
    line = 1
    last = 0
    for m in _TOKEN.finditer(text):
        line += text.count("\n", last, m.start())
        last = m.start()
        if m.lastgroup != "comment":
            out.append(Tok(m.lastgroup or "p", m.group(0), line))
    return out


def _close(toks: list[Tok], i: int) -> int:
    """Index of the bracket closing the one at i."""
    pairs = {"(": ")", "{": "}", "[": "]"}
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].text in pairs:
            depth += 1
        elif toks[j].text in pairs.values():
            depth -= 1
            if depth == 0:
                return j
    raise FactsError(f"line {toks[i].line}: unbalanced brackets")


def _java_string(tok: Tok) -> str:
    if tok.kind == "text":
        return tok.text[3:-3]
    return tok.text[1:-1].encode().decode("unicode_escape")


class JavaFile:
    def __init__(self, tree: DirTree, path: str) -> None:
        self.tree = tree
        self.path = path
        self.toks = tokens(tree.must_read(path))

    def where(self, line: int) -> str:
        return self.tree.where(self.path, line)

    def region(self, pattern: str) -> tuple[int, int]:
        """Tokens of the statement or method body that follows the first match of `pattern`
        (a regex over space-joined tokens)."""
        offsets = []
        position = 0
        for tok in self.toks:
            offsets.append(position)
            position += len(tok.text) + 1
        joined = " ".join(t.text for t in self.toks)
        match = re.search(pattern, joined)
        if match is None:
            raise FactsError(f"{self.where(1)}: {pattern!r} not found (Bazel's sources changed?)")
        start = bisect.bisect_right(offsets, match.end()) - 1
        end = start
        depth = 0
        while end < len(self.toks):
            text = self.toks[end].text
            if text in "({[":
                depth += 1
            elif text in ")}]":
                depth -= 1
                if depth < 0 or (text == "}" and depth == 0):
                    break
            elif text == ";" and depth == 0:
                break
            end += 1
        return start, end

    def constant(self, name: str) -> str | None:
        for i, tok in enumerate(self.toks[:-3]):
            if (
                tok.text == name
                and self.toks[i + 1].text == "="
                and self.toks[i + 2].kind == "str"
                and self.toks[i - 1].text == "String"
            ):
                return _java_string(self.toks[i + 2])
        return None


class BazelSource:
    def __init__(self, root: Path, version: str) -> None:
        self.tree = DirTree(root, version, "bazelbuild/bazel")
        self.version = version
        self._files: dict[str, JavaFile] = {}

    def java(self, path: str) -> JavaFile:
        if path not in self._files:
            self._files[path] = JavaFile(self.tree, path)
        return self._files[path]

    def _name(self, file: JavaFile, toks: list[Tok]) -> str:
        if len(toks) == 1 and toks[0].kind == "str":
            return _java_string(toks[0])
        ident = toks[-1].text
        for candidate in (file, self.java(RULE_CLASS)):
            value = candidate.constant(ident)
            if value is not None:
                return value
        raise FactsError(f"{file.where(toks[0].line)}: cannot resolve attribute name {ident}")

    def attrs(self, path: str, pattern: str) -> dict[str, Attr]:
        """Public attributes added (and removed) in the region after `pattern`, in order."""
        file = self.java(path)
        start, end = file.region(pattern)
        toks = file.toks
        out: dict[str, Attr] = {}
        i = start
        while i < end:
            tok = toks[i]
            if tok.text == "removeAttribute" and toks[i + 1].text == "(":
                out.pop(_java_string(toks[i + 2]), None)
            if tok.text == "attr" and toks[i + 1].text == "(" and toks[i - 1].text != ".":
                close = _close(toks, i + 1)
                args = toks[i + 2 : close]
                comma = next(k for k, t in enumerate(args) if t.text == ",")
                name = self._name(file, args[:comma])
                java_type = args[-1].text
                if java_type not in TYPES:
                    raise FactsError(f"{file.where(tok.line)}: unknown attribute type {java_type}")
                mandatory, default, source = self._chain(toks, close + 1, TYPES[java_type])
                if not name.startswith(("$", ":", "_")):
                    out[name] = Attr(
                        TYPES[java_type], mandatory, default, source, None, file.where(tok.line)
                    )
                i = close
            i += 1
        return out

    def _chain(self, toks: list[Tok], i: int, kind: str) -> tuple[bool, Any, bool]:
        mandatory = False
        default: Any = _IMPLICIT.get(kind, [] if kind.endswith("list") else {})
        source = False
        while toks[i].text == "." and toks[i + 2].text == "(":
            method, close = toks[i + 1].text, _close(toks, i + 2)
            inner = toks[i + 3 : close]
            if method == "mandatory":
                mandatory = True
            elif method in ("value", "defaultValue"):
                default, source = _java_value(inner)
            i = close + 1
        return mandatory, default, source

    def removed(self, path: str) -> list[str]:
        """Attributes a native rule's build() removes: `removeAttribute("x")`, and what
        RuleClass.Builder's own methods it calls remove (`exemptFromConstraintChecking`)."""
        file = self.java(path)
        start, end = file.region(r"public RuleClass build \(")
        toks = file.toks
        out = []
        for i in range(start, end):
            if toks[i].text == "removeAttribute" and toks[i + 1].text == "(":
                out.append(_java_string(toks[i + 2]))
            elif toks[i].text == "exemptFromConstraintChecking" and toks[i - 1].text == ".":
                rule_class = self.java(RULE_CLASS)
                first, last = rule_class.region(r"public Builder exemptFromConstraintChecking \(")
                rtoks = rule_class.toks
                out += [
                    self._name(rule_class, rtoks[j + 2 : j + 5])
                    for j in range(first, last)
                    if rtoks[j].text == "remove" and rtoks[j - 2].text == "attributes"
                ]
        return out

    def functions(self, path: str) -> dict[str, Function]:
        file = self.java(path)
        toks = file.toks
        out: dict[str, Function] = {}
        for i, tok in enumerate(toks):
            if tok.text == "StarlarkMethod" and toks[i - 1].text == "@":
                close = _close(toks, i + 1)
                fields = _annotation(toks, i + 2, close)
                if fields["name"][0].kind != "str":
                    continue
                name = _java_string(fields["name"][0])
                params: dict[str, Param] = {}
                positional: list[str] = []
                body = fields.get("parameters", [])
                for j, p in enumerate(body):
                    if p.text == "Param" and body[j - 1].text == "@":
                        pclose = _close(body, j + 1)
                        pf = _annotation(body, j + 2, pclose)
                        pname = _java_string(pf["name"][0])
                        text = _java_string(pf["defaultValue"][0]) if "defaultValue" in pf else None
                        default, source = _starlark_literal(text)
                        if [t.text for t in pf.get("positional", [])] != ["false"]:
                            positional.append(pname)
                        params[pname] = Param(
                            mandatory=text is None,
                            default=default,
                            default_source=source,
                            provenance=file.where(p.line),
                        )
                out[name] = Function(
                    provenance=file.where(tok.line),
                    params=params,
                    positional=positional,
                    varargs="extraPositionals" in fields,
                    kwargs="extraKeywords" in fields,
                )
        return out


def _annotation(toks: list[Tok], start: int, end: int) -> dict[str, list[Tok]]:
    """`key = value, ...` of an annotation's arguments → key → value tokens."""
    out: dict[str, list[Tok]] = {}
    i = start
    while i < end:
        key = toks[i].text
        j = i + 2
        value_start = j
        while j < end and toks[j].text != ",":
            if toks[j].text in "({[":
                j = _close(toks, j)
            j += 1
        out[key] = toks[value_start:j]
        i = j + 1
    return out


def _starlark_literal(text: str | None) -> tuple[Any, bool]:
    """A @Param defaultValue (Starlark source) as a literal where it is one."""
    if text is None:
        return None, False
    try:
        return ast.literal_eval(text), False
    except (ValueError, SyntaxError):
        return text, True


def _java_value(toks: list[Tok]) -> tuple[Any, bool]:
    text = " ".join(t.text for t in toks)
    if len(toks) == 1 and toks[0].kind == "str":
        return _java_string(toks[0]), False
    if text in ("true", "false"):
        return text == "true", False
    if text in ("ImmutableList . of ( )", "ImmutableSet . of ( )"):
        return [], False
    if text == "ImmutableMap . of ( )":
        return {}, False
    match = re.fullmatch(r"StarlarkInt \. of \( (-?) ?(\d+) \)", text)
    if match:
        return int(match.group(1) + match.group(2)), False
    return "".join(t.text for t in toks), True


def attr_kinds(root: Path, version: str) -> frozenset[str]:
    """The constructors of Starlark's `attr` module in this Bazel."""
    return frozenset(BazelSource(root, version).functions(ATTR_MODULE))


def read_bazel(root: Path, version: str) -> BazelFacts:
    src = BazelSource(root, version)
    # Every rule's `name`, then what every rule class builder adds.
    core = src.attrs(RULE_CLASS, r"Attribute NAME_ATTRIBUTE =")
    core |= src.attrs(
        BASE_RULE_CLASSES,
        r"commonCoreAndStarlarkAttributes \( RuleClass \. Builder builder \) \{ return",
    )
    starlark_base = src.attrs(STARLARK_RULES, r"RuleClass baseRule =")
    native_base = src.attrs(
        BASE_RULE_CLASSES, r"class NativeBuildRule .*? return commonCoreAndStarlarkAttributes"
    )
    natives = {}
    for name, path in NATIVE_RULES.items():
        attrs = {**core, **native_base}
        own = src.attrs(path, r"public RuleClass build \(")
        for removed in src.removed(path):
            attrs.pop(removed, None)
        natives[name] = Rule(
            name=name,
            provenance=src.java(path).where(1),
            executable=False,
            test=False,
            attrs=dict(sorted({**attrs, **own}.items())),
            preconditions=[],
        )
    build_functions: dict[str, Function] = {}
    for path in BUILD_FUNCTIONS:
        build_functions |= src.functions(path)
    return BazelFacts(
        version=version,
        provenance=f"bazelbuild/bazel@{version}",
        common_attrs=dict(sorted({**core, **starlark_base}.items())),
        executable_attrs=src.attrs(STARLARK_RULES, r"RuleClass binaryBaseRule ="),
        test_attrs=src.attrs(STARLARK_RULES, r"public static RuleClass getTestBaseRule \("),
        native_rules=natives,
        build_functions=dict(sorted(build_functions.items())),
        module_functions=dict(sorted(src.functions(MODULE_FUNCTIONS).items())),
    )
