"""A Hurtle app for the production tests: recycling, probes, metrics, systemd, PID 1.

Options: --port, --workers, --max-requests N, --pre-stop-delay S (passed to app.run; every
other setting comes from HURTLE_* variables). ORPHANS=N: a custom process double-forks N
grandchildren that exit at once (orphans for PID 1 to reap).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from hurtle import Hurtle, Request, json, text

app = Hurtle("production")


@app.get("/")
async def index(request: Request):
    return json({"pid": os.getpid()})


@app.get("/slow/<ms:int>")
async def slow(request: Request, ms: int):
    await asyncio.sleep(ms / 1000)
    return text("done")


@app.get("/workers")
async def workers(request: Request):
    return json(app.m.workers)


@app.main_process_ready
def add_orphan_maker(app: Hurtle) -> None:
    count = int(os.environ.get("ORPHANS", "0"))
    if count:
        app.manager.manage("Orphans", "production:make_orphans", {"count": count})


def make_orphans(count: int) -> None:
    """Double-fork ``count`` grandchildren that exit at once, then idle until stopped."""
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            if os.fork() == 0:
                time.sleep(0.2)
                os._exit(0)
            os._exit(0)
        os.waitpid(pid, 0)
    print(f"made {count} orphans", flush=True)
    try:
        while True:
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-requests", type=int, default=None)
    parser.add_argument("--pre-stop-delay", type=float, default=None)
    args = parser.parse_args()
    app.run(
        port=args.port,
        workers=args.workers,
        max_requests=args.max_requests,
        pre_stop_delay=args.pre_stop_delay,
    )


if __name__ == "__main__":
    main()
    sys.exit(0)
