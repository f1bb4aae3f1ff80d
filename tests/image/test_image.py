"""The OCI image for real: a base pulled by digest from a registry on loopback, the image
unpacked with umoci and run with runc (root, host network namespace, read-only root,
uid 65532), a real Envoy on the host sending requests through the engine in it.

Needs root, runc and umoci (`make test` installs them as root); skipped with the reason otherwise."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from policy_builder.errors import EXIT_TOOL, EXIT_USAGE

REPO = Path(__file__).resolve().parents[2]
TOOL_DIR = REPO / "tools" / "gen" / "image"
ENVOY = REPO / ".venv" / "bin" / "envoy"
EPOCH = "1700000000"
# The version stamped, so the image's tag does not depend on the checkout's git state.
VERSION = "v0.0.0-test"
ENGINE_CONFIG = REPO / "examples" / "envoy" / "engine-config.yaml"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runc") or not shutil.which("umoci"),
    reason="needs root, runc and umoci (make system-packages installs them as root)",
)


def _builder(
    output: Path, env: dict[str, str], *extra: str, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policy_builder", "build", "--policies", str(REPO / "policies"),
         "--output", str(output), "--json", "--quiet", *extra],
        env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH, "BUILD_VERSION": VERSION, **env},
        capture_output=True, text=True, cwd=cwd,
    )  # fmt: skip


@dataclass(frozen=True)
class Registry:
    host: str
    base: str


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    binary = tmp_path_factory.mktemp("bin") / "testregistry"
    subprocess.run(
        ["go", "build", "-o", str(binary), "./cmd/testregistry"],
        cwd=TOOL_DIR, env={**os.environ, "GOWORK": "off"}, check=True,
    )  # fmt: skip
    proc = subprocess.Popen([str(binary)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        yield Registry(line["registry"], line["base"])
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def built(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out")
    # A cache of its own: the base must come through the registry, not an earlier pull.
    cache = tmp_path_factory.mktemp("cache")
    proc = _builder(out, {"FINAL_IMAGE_BASE": registry.base, "POLICY_BUILDER_CACHE": str(cache)})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["image"]["base"] == registry.base
    return out


def test_outputs_and_reproducible(built: Path, registry: Registry, tmp_path: Path) -> None:
    for name in ("image/index.json", "image/oci-layout", "policy-engine.tar", "sbom.cdx.json"):
        assert (built / name).is_file(), name
    tar = subprocess.run(["tar", "-xOf", str(built / "policy-engine.tar"), "manifest.json"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(tar.stdout)[0]["RepoTags"] == [f"policy-engine:{VERSION}"]
    first = json.loads((built / "image" / "index.json").read_text())["manifests"][0]["digest"]
    # Again into a relative output folder, as `make build` gives it.
    again = _builder(Path("again"), {"FINAL_IMAGE_BASE": registry.base}, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / "policy-engine.tar").is_file()
    assert json.loads(again.stdout)["image"]["index_digest"] == first


def test_sbom_lists_the_engine_modules(built: Path) -> None:
    bom = json.loads((built / "sbom.cdx.json").read_text())
    assert bom["bomFormat"] == "CycloneDX"
    by_name = {c["name"]: c for c in bom["components"]}
    grpc = by_name["google.golang.org/grpc"]
    assert grpc["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    assert grpc["hashes"][0]["alg"] == "SHA-256"
    assert "std" in by_name


@dataclass
class Bundle:
    path: Path
    config: dict[str, object]


def _bundle(built: Path, tmp: Path, args: list[str], mounts: list[tuple[Path, str]]) -> Path:
    bundle = tmp / "bundle"
    subprocess.run(["umoci", "unpack", "--image", f"{built / 'image'}:{VERSION}", str(bundle)],
                   check=True, capture_output=True)  # fmt: skip
    config = json.loads((bundle / "config.json").read_text())
    process = config["process"]
    assert process["args"] == ["/app/policy-engine", "--config", "/etc/policy-engine/config.yaml"]
    assert process["user"]["uid"] == 65532 and process["user"]["gid"] == 65532
    assert process["cwd"] == "/app"
    process["args"] = process["args"][:1] + args
    process["terminal"] = False
    config["root"]["readonly"] = True
    # Host network (the engine listens on loopback ports Envoy reaches); no cgroup
    # namespace (cgroup v1 hosts).
    config["linux"]["namespaces"] = [
        n for n in config["linux"]["namespaces"] if n["type"] not in ("network", "cgroup")
    ]
    for source, target in mounts:
        config["mounts"].append({"destination": target, "type": "bind", "source": str(source),
                                 "options": ["rbind", "ro"]})  # fmt: skip
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def test_version_in_runc(built: Path, tmp_path: Path) -> None:
    bundle = _bundle(built, tmp_path, ["--version"], [])
    cid = f"pe-version-{os.getpid()}"
    proc = subprocess.run(["runc", "run", "--bundle", str(bundle), cid],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    listed = next(line for line in proc.stdout.splitlines() if line.startswith("policies: "))
    assert listed.removeprefix("policies: ").split(", ") == _policy_keys()


def _policy_keys() -> list[str]:
    """name:version of every policy the build compiled in, sorted as --version lists them."""
    keys = []
    for f in (REPO / "policies").glob("*/*/policy.yaml"):
        spec = yaml.safe_load(f.read_text())
        keys.append(f"{spec['name']}:{spec['version']}")
    return sorted(keys)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _wait(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def test_serve_in_runc_behind_envoy(built: Path, tmp_path: Path) -> None:
    if not ENVOY.is_file():
        pytest.skip(f"{ENVOY} missing: run make venv")
    engine, admin, listen, envoy_admin = (_free_port() for _ in range(4))
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    cid = f"pe-serve-{os.getpid()}"
    args = ["--config", "/etc/policy-engine/config.yaml", "--listen", f"127.0.0.1:{engine}",
            "--admin", f"127.0.0.1:{admin}"]  # fmt: skip
    bundle = _bundle(built, tmp_path, args, [(ENGINE_CONFIG, "/etc/policy-engine/config.yaml")])
    runc = subprocess.Popen(["runc", "run", "--bundle", str(bundle), cid],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    envoy: subprocess.Popen[bytes] | None = None
    try:
        _wait(f"http://127.0.0.1:{admin}/healthz", time.monotonic() + 30)
        state = subprocess.run(["runc", "exec", cid, "/app/policy-engine", "--version"],
                               capture_output=True, text=True)  # fmt: skip
        assert state.returncode == 0, state.stdout + state.stderr
        envoy_yaml = tmp_path / "envoy.yaml"
        subprocess.run(
            [str(built / "policy-engine"), "envoy-config", "--config", str(ENGINE_CONFIG),
             "--listen", f"127.0.0.1:{listen}", "--engine", f"127.0.0.1:{engine}",
             "--upstream", f"127.0.0.1:{upstream.server_address[1]}",
             "--admin", f"127.0.0.1:{envoy_admin}", "--route", "/api=api", "--route", "/=default",
             "--output", str(envoy_yaml)],
            check=True,
        )  # fmt: skip
        envoy = subprocess.Popen(
            [str(ENVOY), "--config-path", str(envoy_yaml), "--disable-hot-restart",
             "--concurrency", "1", "--log-level", "warn"],
        )  # fmt: skip
        _wait(f"http://127.0.0.1:{envoy_admin}/ready", time.monotonic() + 30)
        with urllib.request.urlopen(f"http://127.0.0.1:{listen}/hello", timeout=10) as r:
            seen = json.loads(r.read())
        assert seen["x-policy-engine"] == "on"  # setHeaders ran in the container
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"http://127.0.0.1:{listen}/api/items", timeout=10)
        assert denied.value.code == 401  # apiKey without a key
    finally:
        if envoy is not None:
            envoy.terminate()
            envoy.wait()
        subprocess.run(["runc", "kill", cid, "KILL"], capture_output=True)
        runc.wait(timeout=30)
        subprocess.run(["runc", "delete", "--force", cid], capture_output=True)
        upstream.shutdown()


def _no_outputs(out: Path) -> None:
    for name in ("image", "policy-engine.tar", "sbom.cdx.json", "policy-engine", "Dockerfile"):
        assert not (out / name).exists(), name


def test_tag_only_base_refused(tmp_path: Path, registry: Registry) -> None:
    proc = _builder(tmp_path / "o", {"FINAL_IMAGE_BASE": f"{registry.host}/test/static:nonroot"})
    assert proc.returncode == EXIT_USAGE
    assert "is not pinned by digest: give the base as NAME@sha256:DIGEST" in proc.stderr
    _no_outputs(tmp_path / "o")


def test_unreachable_registry(tmp_path: Path) -> None:
    base = "127.0.0.1:1/test/static@sha256:" + "ab" * 32
    proc = _builder(tmp_path / "o", {"FINAL_IMAGE_BASE": base,
                                     "POLICY_BUILDER_CACHE": str(tmp_path / "c")})  # fmt: skip
    assert proc.returncode == EXIT_TOOL  # the network, not the input
    assert f"pulling base {base} from 127.0.0.1:1" in proc.stderr
    assert "connection refused" in proc.stderr
    _no_outputs(tmp_path / "o")


def test_base_lacking_the_platform(tmp_path: Path, registry: Registry) -> None:
    proc = _builder(tmp_path / "o", {"FINAL_IMAGE_BASE": registry.base,
                                     "POLICY_BUILDER_CACHE": str(tmp_path / "c")},
                    "--platform", "linux/amd64,linux/arm64")  # fmt: skip
    assert proc.returncode == EXIT_USAGE  # the base named must change
    assert f"base {registry.base} has no linux/arm64 image (it has: linux/amd64)" in proc.stderr
    _no_outputs(tmp_path / "o")
    assert not (tmp_path / "c" / "base-images").exists() or not any(
        (tmp_path / "c" / "base-images").iterdir()
    )
