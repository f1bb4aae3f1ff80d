"""Progress lines: a counting line on a terminal, plain start/end lines elsewhere."""

from __future__ import annotations

import io
import re
import time

import pytest
from policy_builder.progress import TICK_SECONDS, Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_line_counts_up_then_shows_the_time() -> None:
    tty = _Tty()
    progress = Progress(stream=tty)
    with progress.phase("compile"):
        time.sleep(TICK_SECONDS * 2.5)
    assert re.fullmatch(r"… compile\r(… compile +\d+s\r)+✔ compile +\d+\.\d\ds\n", tty.getvalue())


def test_plain_lines_in_ci() -> None:
    plain = io.StringIO()
    progress = Progress(stream=plain)
    with pytest.raises(RuntimeError), progress.phase("compile"):
        raise RuntimeError("boom")
    lines = plain.getvalue().splitlines()
    assert lines[0] == "phase compile: started"
    assert re.fullmatch(r"phase compile: failed in \d+\.\d\ds", lines[1])
    assert set(progress.timings) == {"compile"}


def test_quiet_prints_nothing_but_keeps_timings() -> None:
    tty = _Tty()
    progress = Progress(stream=tty, quiet=True)
    with progress.phase("validate"):
        pass
    assert tty.getvalue() == ""
    assert "validate" in progress.timings
