"""Phase progress and timings: friendly on a terminal, plain lines in CI and logs."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

# How often the running phase's elapsed time is redrawn on a terminal.
TICK_SECONDS = 0.5


class Progress:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.fancy = self.stream.isatty()
        self.timings: dict[str, float] = {}

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    def _ticker(self, name: str, start: float, stop: threading.Event) -> None:
        # A compile can take a minute: show that it is alive, on one rewritten line.
        while not stop.wait(TICK_SECONDS):
            took = time.monotonic() - start
            print(f"… {name:<10} {took:6.0f}s", end="\r", file=self.stream, flush=True)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time one phase; on a terminal a line counts up until the phase ends."""
        start = time.monotonic()
        stop = threading.Event()
        ticker: threading.Thread | None = None
        if self.fancy and not self.quiet:
            print(f"… {name}", end="\r", file=self.stream, flush=True)
            ticker = threading.Thread(target=self._ticker, args=(name, start, stop), daemon=True)
            ticker.start()
        elif not self.quiet:
            self.say(f"phase {name}: started")
        ok = False
        try:
            yield
            ok = True
        finally:
            stop.set()
            if ticker is not None:
                ticker.join()
            took = time.monotonic() - start
            self.timings[name] = round(took, 3)
            if self.fancy:
                mark = "✔" if ok else "✘"
                self.say(f"{mark} {name:<10} {took:6.2f}s")
            else:
                self.say(f"phase {name}: {'done' if ok else 'failed'} in {took:.2f}s")
