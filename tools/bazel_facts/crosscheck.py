"""Compare the facts file with real Bazel's `starlark_doc_extract` of the same .bzl files
(doc_extract.sh): every exported rule, macro, provider and module extension, each rule's
attributes (type, mandatory, literal default), each macro's parameters and each tag class; and
Bazel's own attributes with its query of a few rules (`bazel_attrs.xml`, from the same script).

    python -m bazel_facts.crosscheck --facts tests/bazel/facts.json --docs DIR
"""

from __future__ import annotations

import argparse
import ast
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .docextract import ATTR_TYPES, DocAttr, DocExtracts
from .model import Attr, Facts, Param, load

# starlark_doc_extract's kind → the facts' kinds it may correspond to.
KINDS = {
    "rule": {"rule"},
    "function": {"macro", "function"},
    "provider": {"provider"},
    "module_extension": {"module_extension"},
    "repository_rule": {"repository_rule"},
    "aspect": {"aspect"},
}


@dataclass
class Report:
    compared: dict[str, int] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)
    # Defaults the facts keep as source text (an expression), so not compared.
    not_compared: list[str] = field(default_factory=list)

    def count(self, what: str, n: int = 1) -> None:
        self.compared[what] = self.compared.get(what, 0) + n


def _literal(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _label_form(value: Any) -> Any:
    """Bazel prints a label in the main repository (`@@//x`) as `//x`."""
    if isinstance(value, str) and value.startswith("@@//"):
        return value[2:]
    if isinstance(value, list):
        return [_label_form(v) for v in value]
    return value


def _attrs(
    where: str, facts: dict[str, Attr], docs: dict[str, DocAttr], report: Report, *, rule: bool
) -> None:
    # A rule's `name` is Bazel's own (type NAME); a tag class's `name` is declared (a string).
    real = {n: a for n, a in docs.items() if not (rule and a.type == "NAME")}
    for name in sorted(set(real) | set(facts)):
        if name not in facts:
            report.differences.append(f"{where}: attribute {name} only in Bazel's doc extract")
            continue
        if name not in real:
            report.differences.append(
                f"{where}: attribute {name} only in the facts ({facts[name].provenance})"
            )
            continue
        mine, theirs = facts[name], real[name]
        report.count("attributes")
        if mine.type != ATTR_TYPES.get(
            theirs.type, "string" if theirs.type == "NAME" else theirs.type
        ):
            report.differences.append(f"{where}.{name}: type {mine.type} vs Bazel's {theirs.type}")
        if mine.mandatory != theirs.mandatory:
            report.differences.append(
                f"{where}.{name}: mandatory {mine.mandatory} vs Bazel's {theirs.mandatory}"
            )
        if mine.default_source:
            report.not_compared.append(f"{where}.{name} = {mine.default} (Bazel: {theirs.default})")
        elif not theirs.mandatory and _label_form(mine.default) != _literal(theirs.default):
            report.differences.append(
                f"{where}.{name}: default {mine.default!r} vs Bazel's {theirs.default}"
            )


def _params(
    where: str,
    facts: dict[str, Param],
    kwargs: str | None,
    docs: dict[str, DocAttr],
    report: Report,
) -> None:
    # Bazel 7's extract gives no parameter roles: `**kwargs` is a parameter named kwargs.
    real = {
        n: p for n, p in docs.items() if n != kwargs and not p.type.endswith(("VARARGS", "KWARGS"))
    }
    variadic = {n for n in docs if n not in real}
    if kwargs is not None and kwargs not in variadic:
        report.differences.append(
            f"{where}: **{kwargs} not in Bazel's doc extract ({sorted(variadic)})"
        )
    for name in sorted(set(real) | set(facts)):
        if name not in facts or name not in real:
            side = "Bazel's doc extract" if name in real else "the facts"
            report.differences.append(f"{where}: parameter {name} only in {side}")
            continue
        report.count("parameters")
        mine, theirs = facts[name], real[name]
        if mine.mandatory != theirs.mandatory:
            report.differences.append(
                f"{where}({name}): mandatory {mine.mandatory} vs Bazel's {theirs.mandatory}"
            )
        if mine.default_source:
            report.not_compared.append(
                f"{where}({name} = {mine.default}) (Bazel: {theirs.default})"
            )
        elif not mine.mandatory and mine.default != _literal(theirs.default):
            report.differences.append(
                f"{where}({name}): default {mine.default!r} vs Bazel's {theirs.default}"
            )


def crosscheck(facts: Facts, docs: DocExtracts) -> Report:
    report = Report()
    for label, entries in sorted(docs.files.items()):
        bzl = facts.files.get(label)
        if bzl is None:
            continue  # read only for the static reader's fallback
        report.count("files")
        for name in sorted(set(entries) | {n for n, e in bzl.exports.items() if e.kind != "value"}):
            where = f"{label}%{name}"
            owner = bzl.exports.get(name.partition(".")[0])
            if "." in name and owner is not None and owner.kind == "value":
                continue  # a function in an exported struct: the struct is a value here
            export, entry = bzl.exports.get(name), entries.get(name)
            if export is None or entry is None:
                side = (
                    "Bazel's doc extract"
                    if entry
                    else f"the facts ({export.provenance if export else ''})"
                )
                report.differences.append(f"{where}: exported only per {side}")
                continue
            report.count("exports")
            if export.kind not in KINDS[entry.kind]:
                report.differences.append(f"{where}: kind {export.kind} vs Bazel's {entry.kind}")
                continue
            if export.kind == "rule" and export.ref:
                report.count("rules")
                _attrs(where, facts.rules[export.ref].attrs, entry.attrs, report, rule=True)
            elif export.kind == "macro" and export.ref:
                report.count("macros")
                macro = facts.macros[export.ref]
                _params(where, macro.params, macro.kwargs, entry.attrs, report)
            elif export.kind == "module_extension" and export.ref:
                tags = facts.extensions[export.ref].tag_classes
                for tag in sorted(set(tags) | set(entry.tags)):
                    if tag not in tags or tag not in entry.tags:
                        report.differences.append(f"{where}.{tag}: tag class only on one side")
                        continue
                    report.count("tag classes")
                    _attrs(f"{where}.{tag}", tags[tag].attrs, entry.tags[tag], report, rule=False)
    return report


# XML element names of `bazel query --output=xml` → the facts' attribute types they cover.
XML_TYPES = {
    "string": {"string"},
    "boolean": {"bool"},
    "int": {"int"},
    "label": {"label"},
    "output": {"output"},
    "license": {"string_list"},
    "list": {"string_list", "label_list", "int_list", "output_list"},
    "dict": {"string_dict", "string_list_dict", "label_keyed_string_dict"},
}


def crosscheck_bazel(facts: Facts, query_xml: Path, report: Report) -> None:
    """Bazel's own attributes (read from its Java sources) against its query of a plain, an
    executable and a test Starlark rule and of the native alias and platform."""
    bazel = facts.bazel
    expected = {
        "plain": bazel.common_attrs,
        "exe": bazel.common_attrs | bazel.executable_attrs,
        "t_test": bazel.common_attrs | bazel.test_attrs,
        "alias": bazel.native_rules["alias"].attrs,
        "platform": bazel.native_rules["platform"].attrs,
    }
    for rule in ET.parse(query_xml).getroot().findall("rule"):
        kind = rule.get("class", "")
        mine = expected[kind]
        real = {
            str(a.get("name")): a.tag
            for a in rule
            if a.get("name")
            and a.tag in XML_TYPES
            and not str(a.get("name")).startswith(("$", ":", "_"))
        }
        report.count("Bazel rule classes")
        for name in sorted(set(real) | set(mine)):
            if name not in real or name not in mine:
                side = "Bazel's query" if name in real else f"the facts ({mine[name].provenance})"
                report.differences.append(f"bazel {kind}: attribute {name} only in {side}")
            elif mine[name].type not in XML_TYPES[real[name]]:
                report.differences.append(
                    f"bazel {kind}.{name}: type {mine[name].type} vs Bazel's {real[name]}"
                )
            else:
                report.count("Bazel attributes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bazel_facts.crosscheck", description=__doc__)
    parser.add_argument("--facts", type=Path, required=True)
    parser.add_argument("--docs", type=Path, required=True)
    args = parser.parse_args(argv)
    facts = load(args.facts)
    report = crosscheck(facts, DocExtracts.read(args.docs, facts.bazel.version))
    if (args.docs / "bazel_attrs.xml").is_file():
        crosscheck_bazel(facts, args.docs / "bazel_attrs.xml", report)
    print("compared: " + ", ".join(f"{n} {what}" for what, n in sorted(report.compared.items())))
    print(f"defaults kept as source expressions, not compared: {len(report.not_compared)}")
    for line in report.not_compared:
        print(f"  {line}")
    print(f"differences: {len(report.differences)}")
    for line in report.differences:
        print(f"  {line}")
    return 1 if report.differences else 0


if __name__ == "__main__":
    sys.exit(main())
