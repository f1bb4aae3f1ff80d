"""Phase progress and timings: friendly on a terminal, plain lines in CI and logs."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.fancy = self.stream.isatty()
        self.timings: dict[str, float] = {}

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time one phase; on a terminal the line is rewritten when the phase ends."""
        start = time.monotonic()
        if self.fancy and not self.quiet:
            print(f"… {name}", end="\r", file=self.stream, flush=True)
        elif not self.quiet:
            self.say(f"phase {name}: started")
        ok = False
        try:
            yield
            ok = True
        finally:
            took = time.monotonic() - start
            self.timings[name] = round(took, 3)
            status = "done" if ok else "failed"
            if self.fancy:
                mark = "✔" if ok else "✘"
                self.say(f"{mark} {name:<10} {took:6.2f}s")
            else:
                self.say(f"phase {name}: {status} in {took:.2f}s")
