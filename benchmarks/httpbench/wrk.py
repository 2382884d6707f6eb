"""The load generator: install wrk if missing, run it pinned to a CPU, parse its report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from httpbench.model import HOST, BenchError, Sample, Scenario, ServerFailed

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_report.lua"
WRK_SLACK = 30.0  # seconds a wrk run may take beyond its duration before it is killed
WRK_REQUEST_TIMEOUT = "2s"  # wrk counts a slower response as a timeout error

RESULT_MARKER = "BENCH_RESULT "


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package first if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is not installed: installing it with apt-get ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        try:
            subprocess.run(command, env=env, check=True, timeout=600, capture_output=True)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            raise BenchError(
                f"could not install wrk (`{' '.join(command)}` failed: {exc}).\n"
                f"{detail.decode(errors='replace')[-2000:]}"
                "Install wrk yourself (Debian/Ubuntu: `apt-get install wrk`, as root) and "
                "run the benchmark again."
            ) from exc
    found = shutil.which("wrk")
    if not found:
        raise BenchError("apt-get installed wrk but it is not on PATH: check PATH and retry.")
    return found


def parse_wrk(output: str) -> Sample:
    """The Sample in the BENCH_RESULT line printed by httpbench/wrk_report.lua."""
    for line in output.splitlines():
        if line.startswith(RESULT_MARKER):
            data = json.loads(line[len(RESULT_MARKER) :])
            return Sample(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                socket_errors=sum(data[k] for k in ("connect", "read", "write", "timeout")),
                status_errors=data["status"],
            )
    raise ServerFailed(f"wrk printed no result:\n{output[-2000:]}")


def run_wrk(port: int, scenario: Scenario, duration: int, connections: int, cpu: int) -> Sample:
    """Load the server with wrk (one thread, pinned to `cpu`) for `duration` seconds."""
    url = f"http://{HOST}:{port}{scenario.path}"
    pin = ["taskset", "-c", str(cpu)]
    load = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", WRK_REQUEST_TIMEOUT]
    command = [*pin, *load, "-s", str(WRK_SCRIPT), url]
    env = {
        **os.environ,
        "BENCH_METHOD": scenario.method,
        "BENCH_BODY_SIZE": str(len(scenario.body)),
    }
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=duration + WRK_SLACK
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerFailed(f"wrk did not finish within {duration + WRK_SLACK:.0f} s") from exc
    if done.returncode != 0:
        raise ServerFailed(f"wrk exited with {done.returncode}: {done.stderr.strip()[-2000:]}")
    return parse_wrk(done.stdout)
