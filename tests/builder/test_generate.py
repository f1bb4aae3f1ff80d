"""Generated Go: aliases that never collide, determinism, and injection-proof output for
hostile names (the whole files are golden: tests/data/golden/registry)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from policy_builder import generate_go
from policy_builder.home import find_engine_sources
from policy_builder.manifest import Manifest

from tests.builder.golden import POLICIES_ROOT, registry_entry


def sample_manifest() -> Manifest:
    tricky = 'name: jwtValidation\ndescription: "quotes \\" `backticks` and\\nnewlines"\n'
    entries = [
        registry_entry(
            "jwtValidation",
            "v1.0.0",
            "jwt-validation/v1.0.0",
            "example.com/p/jwt/v1",
            tricky,
        ),
        registry_entry("jwtValidation", "v2.0.0", "jwt-validation/v2.0.0", "example.com/p/jwt/v2"),
        registry_entry("rate-limit", "v1.0.0", "rate-limit/v1.0.0", "example.com/p/rl-dash"),
        registry_entry("rate_limit", "v1.0.0", "rate_limit/v1.0.0", "example.com/p/rl-underscore"),
    ]
    return Manifest(policies_dir=POLICIES_ROOT, policies=tuple(entries))


def test_aliases_are_unique_when_names_collide() -> None:
    aliases = generate_go.import_aliases(sample_manifest())
    assert aliases["rate-limit:v1.0.0"] == "rate_limit_v1_0_0"
    assert aliases["rate_limit:v1.0.0"] == "rate_limit_v1_0_0_2"
    assert len(set(aliases.values())) == len(aliases)


def test_output_is_deterministic_and_free_of_absolute_paths() -> None:
    manifest = sample_manifest()
    first = generate_go.go_files(manifest, find_engine_sources())
    again = generate_go.go_files(manifest, find_engine_sources())
    assert first == again
    for text in first.values():
        assert str(POLICIES_ROOT) + "/" not in text
        assert "Generated at" not in text


HOSTILE = [
    'evil"; panic("x")',
    "evil`\n\tpanic(1)\n`",
    "evil\n}\nfunc init() { panic(1) }\n//",
    "../../etc/passwd",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_cannot_change_the_code(name: str, tmp_path: Path) -> None:
    # The schema rejects these names; the generator must be safe even without it.
    benign = Manifest(
        POLICIES_ROOT, (registry_entry("benign", "v1.0.0", "b/v1.0.0", "example.com/b"),)
    )
    hostile = Manifest(
        POLICIES_ROOT, (registry_entry(name, name, name, "example.com/" + name.replace("\n", "")),)
    )
    for gen in (generate_go.plugin_registry, generate_go.build_info):
        good = gen(benign, find_engine_sources())
        bad = gen(hostile, find_engine_sources())
        assert bad.count("\n") == good.count("\n")
        path = tmp_path / "x.go"
        path.write_text(bad)
        proc = subprocess.run(["gofmt", "-e", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "panic(1)" not in [line.strip() for line in bad.splitlines()]
