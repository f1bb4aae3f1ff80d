"""The Jinja2 environment over the templates directory: strict, no autoescape (the
values are escaped for their target language by `escape` before they reach a template)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2


@cache
def environment(templates_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render(templates_dir: Path, template: str, **context: Any) -> str:
    return environment(templates_dir).get_template(template).render(**context)
