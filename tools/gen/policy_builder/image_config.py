"""The image configuration shared with Bazel: rules/image_config.bzl, read as plain
literals (the file allows nothing else, so Python and Starlark read it the same)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from policy_builder.errors import UsageError

CONFIG_FILE = Path("rules") / "image_config.bzl"


@dataclass(frozen=True)
class ImageConfig:
    user: str
    app_dir: str
    config_path: str
    ports: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    loaded_policies_label: str
    loaded_policies_separator: str

    def entrypoint(self, binary: str) -> list[str]:
        return [f"{self.app_dir}/{binary}"]

    @property
    def cmd(self) -> list[str]:
        return ["--config", self.config_path]


def _values(path: Path) -> dict[str, object]:
    try:
        tree = ast.parse(path.read_text(), str(path))
    except (OSError, SyntaxError) as exc:
        raise UsageError(f"{path}: cannot read the image configuration: {exc}") from None
    values: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if not (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            raise UsageError(f"{path}:{node.lineno}: only NAME = literal assignments are allowed")
        try:
            values[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError:
            raise UsageError(
                f"{path}:{node.lineno}: {node.targets[0].id} is not a plain literal"
            ) from None
    return values


def _typed(path: Path, values: dict[str, object], name: str, kind: type) -> object:
    value = values.get(name)
    if not isinstance(value, kind):
        raise UsageError(f"{path}: {name} is missing or not a {kind.__name__}")
    return value


def read_image_config(root: Path) -> ImageConfig:
    path = root / CONFIG_FILE
    v = _values(path)

    def text(name: str) -> str:
        return str(_typed(path, v, name, str))

    ports = _typed(path, v, "IMAGE_PORTS", list)
    labels = _typed(path, v, "IMAGE_LABELS", dict)
    assert isinstance(ports, list) and isinstance(labels, dict)
    return ImageConfig(
        user=text("IMAGE_USER"),
        app_dir=text("IMAGE_APP_DIR"),
        config_path=text("IMAGE_CONFIG_PATH"),
        ports=tuple(str(p) for p in ports),
        labels=tuple(sorted((str(k), str(val)) for k, val in labels.items())),
        loaded_policies_label=text("LOADED_POLICIES_LABEL"),
        loaded_policies_separator=text("LOADED_POLICIES_SEPARATOR"),
    )
