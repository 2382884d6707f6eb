"""hurtle-cli installed alone (with hurtle-worker-manager, click and msgspec) controls a server.

Builds both wheels, installs them into a fresh venv with ``--no-index`` (their third-party
dependencies come from the index or pip's cache first), and runs ``hurtle --version`` and
``hurtle inspect`` there, outside the repository, against the fake inspector over real
sockets, plain and TLS with an API key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_inspector import API_KEY, Running

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {"hurtle-cli", "hurtle-worker-manager", "click", "msgspec", "pip", "setuptools", "wheel"}


def _run(*args: object, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env = {k: v for k, v in env.items() if not k.startswith("HURTLE_INSPECTOR_")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ok(*args: object, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = _run(*args, cwd=cwd, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only hurtle-cli and what it declares; yields its bin folder."""
    base = tmp_path_factory.mktemp("alone")
    dist = base / "dist"
    _ok(sys.executable, "-m", "venv", base / "build", cwd=base)
    builder = base / "build" / "bin" / "python"
    for package in ("cli", "worker-manager"):
        _ok(builder, "-m", "pip", "wheel", "-q", "--no-deps", ROOT / "packages" / package,
            "-w", dist, cwd=base)  # fmt: skip
    wheels = sorted(path.name.split("-")[0] for path in dist.glob("*.whl"))
    assert wheels == ["hurtle_cli", "hurtle_worker_manager"], wheels
    _ok(sys.executable, "-m", "venv", base / "user", cwd=base)
    python = base / "user" / "bin" / "python"
    _ok(python, "-m", "pip", "install", "-q", "click>=8.1", "msgspec>=0.18", cwd=base)
    _ok(python, "-m", "pip", "install", "-q", "--no-index", "--find-links", dist, "hurtle-cli",
        cwd=base)  # fmt: skip
    return base / "user" / "bin"


@pytest.mark.slow
def test_only_the_declared_distributions_are_installed(venv: Path) -> None:
    listing = _ok(venv / "python", "-m", "pip", "list", "--format=json", cwd=venv)
    installed = {item["name"].lower().replace("_", "-") for item in json.loads(listing.stdout)}
    assert {"hurtle-cli", "hurtle-worker-manager", "click", "msgspec"} <= installed
    assert installed <= ALLOWED, f"unexpected distributions: {sorted(installed - ALLOWED)}"
    for server_module in ("hurtle", "hurtle_http", "hurtle_inspector", "httptools", "uvloop"):
        probe = _run(venv / "python", "-c", f"import {server_module}", cwd=venv)
        assert probe.returncode == 1, f"{server_module} is importable in the lone venv"
    where = _ok(venv / "python", "-c", "import hurtle_cli; print(hurtle_cli.__file__)", cwd=venv)
    assert str(ROOT) not in where.stdout, where.stdout


@pytest.mark.slow
def test_version_in_the_lone_venv(venv: Path) -> None:
    result = _ok(venv / "hurtle", "--version", cwd=venv)
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == ["hurtle-worker-manager", "hurtle-cli", "python"], result.stdout


@pytest.mark.slow
def test_inspect_from_the_lone_venv(venv: Path, inspector: Running) -> None:
    info = _ok(venv / "hurtle", "inspect", "-p", inspector.port, cwd=venv, timeout=60)
    assert "FakeApp" in info.stdout
    assert "Hurtle-Server-1-0" in info.stdout
    scale = _ok(venv / "hurtle", "inspect", "scale", "3", "--json", "-p", inspector.port,
                cwd=venv, timeout=60)  # fmt: skip
    assert json.loads(scale.stdout)["replicas"] == 3
    missing = _run(venv / "hurtle", "inspect", "nope", "-p", inspector.port, cwd=venv, timeout=60)
    assert missing.returncode == 2
    assert missing.stderr.startswith("Error: unknown command nope (available: ")


@pytest.mark.slow
def test_inspect_over_tls_with_an_api_key_from_the_lone_venv(
    venv: Path, tls_inspector: Running, certificate: tuple[Path, Path]
) -> None:
    cert, _ = certificate
    host = f"https://localhost:{tls_inspector.port}"
    args = ("inspect", "--host", host, "--cafile", cert, "--json")
    denied = _run(venv / "hurtle", *args, cwd=venv, timeout=60)
    assert denied.returncode == 4, denied.stderr
    allowed = _ok(venv / "hurtle", *args, "--api-key", API_KEY, cwd=venv, timeout=60)
    assert json.loads(allowed.stdout)["info"]["app"] == "FakeApp"
