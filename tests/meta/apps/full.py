"""A Hurtle app that exercises the process system; the tests run it as a script.

Options: --port, --workers, --start-method (Hurtle's default if not given), --events FILE
(listener order is appended there as "<event> <pid>"), --fail-at EVENT (that listener
raises), --consumer FILE (a custom process drains the shared queue into FILE),
--single-process, --threshold N; with NO_SHARED set in the environment, nothing is put in
shared_ctx.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import queue
import sys
import time

from hurtle import Hurtle, Request, WorkerManager, json, text

if os.environ.get("FAIL_IMPORT_IN_WORKER") and __name__ != "__main__":
    raise ImportError("cannot import name 'flaky' from 'nowhere' (a failure in the workers only)")

if os.environ.get("SLOW_START") and __name__ != "__main__":
    time.sleep(float(os.environ["SLOW_START"]))  # a slow global scope in the workers

app = Hurtle("full")
OPTIONS = {
    "events": os.environ.get("EVENTS_FILE", ""),
    "fail_at": os.environ.get("FAIL_AT", ""),
}


def record(event: str) -> None:
    if OPTIONS["events"]:
        with open(OPTIONS["events"], "a") as events:
            events.write(f"{event} {os.getpid()}\n")
    if OPTIONS["fail_at"] == event:
        raise RuntimeError(f"listener {event} failed on purpose")


def make_listener(event: str):
    if event.startswith("after"):

        async def listener(app: Hurtle, loop: object) -> None:
            record(event)

    else:

        def listener(app: Hurtle) -> None:  # type: ignore[misc]
            record(event)

    return listener


for event in app.listener_events:
    app.register_listener(make_listener(event), event)


@app.main_process_start
def create_shared(app: Hurtle) -> None:
    if os.environ.get("NO_SHARED"):
        return  # a plain app: nothing in shared_ctx
    app.shared_ctx.counter = multiprocessing.Value("i", 0)
    app.shared_ctx.jobs = multiprocessing.Queue()


@app.main_process_ready
def add_consumer(app: Hurtle) -> None:
    consumer = os.environ.get("CONSUMER_FILE")
    if consumer:
        app.manager.manage("Consumer", consume, {"path": consumer})


def consume(path: str) -> None:
    """A custom process: writes every job from the shared queue to ``path``."""
    from hurtle_worker_manager import get_multiplexer

    jobs = get_multiplexer().shared_ctx.jobs
    try:
        while True:
            try:
                job = jobs.get(timeout=0.2)
            except queue.Empty:
                continue
            with open(path, "a") as out:
                out.write(f"{job}\n")
    except KeyboardInterrupt:
        pass


@app.get("/")
async def whoami(request: Request):
    return json({"name": app.m.name, "pid": os.getpid()})


@app.get("/slow")
async def slow(request: Request):
    await asyncio.sleep(float(request.args.get("s", "1")))
    return text("slow done")


@app.get("/workers")
async def workers(request: Request):
    return json(app.m.workers)


@app.get("/state")
async def state(request: Request):
    return json(app.m.state)


@app.get("/restart")
async def restart(request: Request):
    await app.m.restart(all_workers=True, zero_downtime=True)
    return text("restarting")


@app.get("/scale/<n:int>")
async def scale(request: Request, n: int):
    result = await app.m.scale(n)
    return json({"replicas": result.replicas, "workers": result.workers})


@app.get("/count")
async def count(request: Request):
    counter = app.shared_ctx.counter
    with counter.get_lock():
        counter.value += 1
        return json({"value": counter.value, "pid": os.getpid()})


@app.get("/job/<name:str>")
async def job(request: Request, name: str):
    app.shared_ctx.jobs.put(f"{name} from {os.getpid()}")
    return text("queued")


@app.get("/crash")
async def crash(request: Request):
    os._exit(3)


@app.get("/hang")
async def hang(request: Request):
    time.sleep(3600)  # noqa: ASYNC251 - blocks the event loop on purpose: heartbeats stop
    return text("unreachable")


@app.get("/manager")
async def manager(request: Request):
    try:
        app.manager  # noqa: B018
    except Exception as exc:
        return text(f"{type(exc).__name__}: {exc}", status=500)
    return text("a manager in a worker", status=200)


@app.get("/reloaded")
async def reloaded(request: Request):
    return text(app.config.RELOADED_FILES)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--start-method", default=Hurtle.start_method)
    parser.add_argument("--single-process", action="store_true")
    parser.add_argument("--threshold", type=int, default=0)
    args = parser.parse_args()
    Hurtle.start_method = args.start_method
    if args.threshold:
        WorkerManager.THRESHOLD = args.threshold
    tls = None
    if os.environ.get("TLS_CERT"):
        tls = {"cert": os.environ["TLS_CERT"], "key": os.environ["TLS_KEY"]}
    app.run(port=args.port, workers=args.workers, single_process=args.single_process, ssl=tls)


if __name__ == "__main__":
    main()
    sys.exit(0)
