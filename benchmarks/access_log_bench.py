"""The cost of hurtle-http's access log per request: off, on with the default message, on
with a gunicorn-style format, each as server CPU microseconds per request.

A server (the JSON hello route of `servers/hurtle_app.py`) runs in its own process pinned
to one CPU, with its `hurtle.access` records written to /dev/null by a formatting handler.
A client pinned to the other CPU sends pipelined batches of `GET /` over a few
connections and reads every response; the server's CPU time (from /proc) over the
measured requests divided by their count is the figure: steadier than requests per second
on a shared machine. Rounds are interleaved across modes; the medians are printed.

    python3 -m hatch run bench:python benchmarks/access_log_bench.py
    python3 -m hatch run bench:python benchmarks/access_log_bench.py --requests 200000 --rounds 5

Point PYTHONPATH at another tree's `packages/core-http/src` to measure that code instead
(the "off" mode then compares the request path of two versions).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from httpbench.processes import cpu_seconds, free_port  # noqa: E402

MODES = {
    "off": None,
    "default": "",
    "gunicorn": '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)s',
}
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: access-log-bench\r\n\r\n"
ANSWER = b'{"hello":"world"}'


def serve(port: int, mode: str) -> None:
    """The server process: the hello route, the access log as ``mode`` says."""
    import logging

    from hurtle_http import HttpApp, HTTPResponse, Request, json

    app = HttpApp("access_bench")

    @app.get("/")
    async def hello(request: Request) -> HTTPResponse:
        return json({"hello": "world"})

    fmt = MODES[mode]
    if fmt is None:
        app.run(host="127.0.0.1", port=port, access_log=False)
        return
    handler = logging.FileHandler(os.devnull)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    access = logging.getLogger("hurtle.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False
    if fmt:
        app.config.ACCESS_LOG_FORMAT = fmt
    app.run(host="127.0.0.1", port=port, access_log=True)


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode} before answering")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(REQUEST)
                if b"200 OK" in sock.recv(4096):
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not answer within 30 s")


def drive(port: int, count: int, connections: int, batch: int) -> None:
    """Send ``count`` pipelined requests over ``connections`` sockets; read every answer."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(connections)]
    try:
        per_socket = count // connections
        pending = dict.fromkeys(socks, per_socket)
        while pending:
            for sock in list(pending):
                n = min(batch, pending[sock])
                sock.sendall(REQUEST * n)
                seen = 0
                buffer = b""
                while seen < n:
                    data = sock.recv(1 << 20)
                    if not data:
                        raise SystemExit("the server closed a connection")
                    buffer += data
                    seen = buffer.count(ANSWER)
                pending[sock] -= n
                if not pending[sock]:
                    del pending[sock]
    finally:
        for sock in socks:
            sock.close()


def measure(mode: str, args: argparse.Namespace) -> tuple[float, float]:
    """Server CPU µs per request and requests per second for one fresh server."""
    port = free_port()
    command = [sys.executable, __file__, "--serve", str(port), mode]
    if args.server_cpu >= 0:
        command = ["taskset", "-c", str(args.server_cpu), *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, process)
        drive(port, args.requests // 10, args.connections, args.batch)  # warm-up
        before, started = cpu_seconds(process.pid), time.perf_counter()
        drive(port, args.requests, args.connections, args.batch)
        wall = time.perf_counter() - started
        cpu = cpu_seconds(process.pid) - before
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return cpu / args.requests * 1e6, args.requests / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000, help="per measured run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64, help="requests pipelined at once")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--server-cpu", type=int, default=0, help="-1: do not pin")
    parser.add_argument("--client-cpu", type=int, default=1, help="-1: do not pin")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return
    if args.client_cpu >= 0:
        os.sched_setaffinity(0, {args.client_cpu})
    import hurtle_http

    print(f"hurtle_http from {Path(hurtle_http.__file__).parent}")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    results: dict[str, list[tuple[float, float]]] = {mode: [] for mode in args.modes}
    for round_index in range(args.rounds):
        shift = round_index % len(args.modes)
        order = args.modes[shift:] + args.modes[:shift]
        for mode in order:
            results[mode].append(measure(mode, args))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"{args.rounds} rounds x {args.requests} requests, medians")
    print(f"{'access log':<10}  {'cpu µs/req':>10}  {'req/s':>8}  {'cpu vs off':>10}")
    off = statistics.median(c for c, _ in results["off"]) if "off" in results else None
    for mode, samples in results.items():
        cpu = statistics.median(c for c, _ in samples)
        rate = statistics.median(r for _, r in samples)
        ratio = f"{cpu / off:.2f}x" if off else "-"
        print(f"{mode:<10}  {cpu:>10.2f}  {rate:>8,.0f}  {ratio:>10}")


if __name__ == "__main__":
    main()
