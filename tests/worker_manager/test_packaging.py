"""The hurtle-worker-manager wheel installs alone (with only msgspec) and supervises processes.

Builds the wheel in one fresh venv, installs it in another (pip resolves msgspec from the
index), and runs a standalone script there, outside the repository.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "packages" / "worker-manager"
ALLOWED = {"hurtle-worker-manager", "msgspec", "pip", "setuptools", "wheel"}

SCRIPT = """
    import asyncio
    import sys
    import time

    from hurtle_worker_manager import WorkerManager, get_multiplexer


    async def server(greeting):
        mux = get_multiplexer()
        mux.report("greeting", greeting)
        mux.ack()
        await asyncio.Event().wait()  # until the manager stops us (the task is cancelled)


    def stopper(expected):
        mux = get_multiplexer()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            servers = {
                name: entry
                for name, entry in mux.workers.items()
                if entry.get("server") and entry.get("state") == "ACKED"
                and entry.get("greeting") == "hello"
            }
            if len(servers) == expected:
                break
            time.sleep(0.02)
        print("acked:", ",".join(sorted(servers)), flush=True)
        mux.terminate().result(timeout=30)


    if __name__ == "__main__":
        manager = WorkerManager(server, workers=2, server_kwargs={"greeting": "hello"})
        manager.manage("Stopper", stopper, {"expected": 2})
        manager.run()
        states = {name: e["state"] for name, e in manager.workers.items() if e.get("server")}
        print("final:", ",".join(f"{n}={s}" for n, s in sorted(states.items())), flush=True)
        sys.exit(0)
"""


def run(*args: object, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def new_venv(path: Path) -> Path:
    """A fresh venv with pip (bootstrapped by the stdlib's ensurepip); returns its python."""
    run(sys.executable, "-m", "venv", path, cwd=path.parent)
    return path / "bin" / "python"


@pytest.mark.slow
def test_wheel_installs_alone_and_runs_workers(tmp_path: Path) -> None:
    builder = new_venv(tmp_path / "build-venv")
    dist = tmp_path / "dist"
    run(builder, "-m", "pip", "wheel", "-q", "--no-deps", PACKAGE, "-w", dist, cwd=tmp_path)
    wheels = list(dist.glob("hurtle_worker_manager-*.whl"))
    assert len(wheels) == 1, list(dist.iterdir())
    wheel = wheels[0]
    about = (PACKAGE / "src" / "hurtle_worker_manager" / "__about__.py").read_text()
    version = re.search(r"__version__ = \"([^\"]+)\"", about)
    assert version, about
    assert wheel.name.startswith(f"hurtle_worker_manager-{version[1]}-py3-none-any")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "hurtle_worker_manager/py.typed" in names
    assert "hurtle_worker_manager/manager.py" in names

    python = new_venv(tmp_path / "user-venv")
    run(python, "-m", "pip", "install", "-q", wheel, cwd=tmp_path)
    listing = run(python, "-m", "pip", "list", "--format=json", cwd=tmp_path)
    installed = {item["name"].lower().replace("_", "-") for item in json.loads(listing.stdout)}
    assert {"hurtle-worker-manager", "msgspec"} <= installed, installed
    assert installed <= ALLOWED, f"unexpected distributions: {sorted(installed - ALLOWED)}"

    script = tmp_path / "standalone.py"
    script.write_text(textwrap.dedent(SCRIPT))
    result = run(python, script, cwd=tmp_path, timeout=120)
    lines = result.stdout.splitlines()
    assert "acked: Hurtle-Server-0-0,Hurtle-Server-1-0" in lines, result.stdout + result.stderr
    assert "final: Hurtle-Server-0-0=COMPLETED,Hurtle-Server-1-0=COMPLETED" in lines, (
        result.stdout + result.stderr
    )
    # The script imported the installed wheel, not the repository's source tree.
    probe = run(python, "-c", "import hurtle_worker_manager as m; print(m.__file__)", cwd=tmp_path)
    assert str(ROOT) not in probe.stdout, probe.stdout
