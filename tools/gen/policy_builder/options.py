"""What a run of the builder was asked to do: the directories, the engine sources, the
workspace `generate` writes into and the build settings, as the CLI resolved them from
flags and the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from policy_builder.home import EngineSources
from policy_builder.settings import Settings


@dataclass(frozen=True)
class Options:
    policies_dir: Path
    output_dir: Path
    engine: EngineSources
    settings: Settings
    # The repository `generate` writes its files into; None for the other commands.
    workspace: Path | None = None
    build_dir: Path | None = None
    # `generate --check`: compare only; not even the reports in OUTPUT are written.
    dry_run: bool = False
