"""Supervise plain Python workers with hurtle-worker-manager: no HTTP anywhere.

What runs:
- ``Hurtle-Main``: binds one TCP socket (127.0.0.1, port 0 = any free port) and
  supervises everything below. Restarts and scaling never close that socket.
- ``Hurtle-Server-0-0`` and ``Hurtle-Server-1-0``: two workers that share the socket and
  answer each line a client sends with their name and pid (an echo service). Each also
  takes jobs from a ``multiprocessing.Queue`` kept in the shared context.
- ``Hurtle-Producer-0``: a custom managed process that puts a job on that queue every
  ``--interval`` seconds and now and then prints the worker state it reads from its
  multiplexer (no round trip to another process).

Run it, talk to it with ``nc 127.0.0.1 <port>``, stop it with Ctrl-C (or SIGTERM)::

    python examples/queue_workers.py [PORT] [--workers N] [--interval SECONDS]

The port also comes from ``HURTLE_DEMO_PORT``. While it runs, try the signals the
manager understands: ``kill -HUP <main pid>`` (zero-downtime restart of the workers),
``kill -TTIN <main pid>`` / ``kill -TTOU <main pid>`` (one worker more / less).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import queue
import sys
import time
from typing import Any

from hurtle_worker_manager import SharedContext, WorkerManager, bind_tcp, get_multiplexer

log = logging.getLogger("demo")

LOG_FORMAT = "[%(asctime)s] [%(processName)s] [%(levelname)s] %(name)s: %(message)s"


# --- the server workers (each runs this coroutine on its own event loop) ---


async def echo_worker() -> None:
    """Serve the shared socket and consume jobs until the manager asks us to stop."""
    mux = get_multiplexer()
    jobs = mux.shared_ctx.jobs
    stop = asyncio.Event()
    mux.on_stop(stop.set)  # SIGINT/SIGTERM from the manager (or Ctrl-C) ends up here
    clients: set[asyncio.StreamWriter] = set()
    done = [0]  # jobs handled by this process

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        clients.add(writer)
        peer = writer.get_extra_info("peername")
        log.info("%s [pid %d] accepted %s", mux.name, mux.pid, peer)
        try:
            while line := await reader.readline():
                text = line.decode(errors="replace").rstrip("\r\n")
                answer = f"{mux.name} pid={mux.pid} jobs={done[0]}: {text}\n"
                writer.write(answer.encode())
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            clients.discard(writer)
            writer.close()

    server = await asyncio.start_server(handle, sock=mux.sockets[0])
    consumer = asyncio.create_task(consume(jobs, stop, done))
    log.info("%s [pid %d] ready: echo service and queue consumer running", mux.name, mux.pid)
    mux.ack()  # tell the manager we are ready: it waits for this (WorkerManager.THRESHOLD)

    await stop.wait()
    log.info("%s [pid %d] stopping after %d job(s)", mux.name, mux.pid, done[0])
    server.close()  # stop accepting; the socket stays open in the main process
    for writer in list(clients):
        writer.write(b"bye: this worker is stopping\n")
        writer.close()
    await consumer
    await server.wait_closed()


async def consume(jobs: Any, stop: asyncio.Event, done: list[int]) -> None:
    """Take jobs from the shared queue (in a thread, so the event loop stays free)."""
    mux = get_multiplexer()
    while not stop.is_set():
        job = await asyncio.to_thread(_next_job, jobs)
        if job is None:
            continue
        number, produced_at = job
        done[0] += 1
        waited = (time.time() - produced_at) * 1000
        log.info(
            "%s [pid %d] job %d: %d squared is %d (queued %.1f ms)",
            mux.name,
            mux.pid,
            number,
            number,
            number * number,
            waited,
        )
        mux.report("jobs_done", done[0])  # appears in every process's view of the state


def _next_job(jobs: Any) -> tuple[int, float] | None:
    try:
        job: tuple[int, float] = jobs.get(timeout=0.25)
    except queue.Empty:
        return None
    return job


# --- the custom managed process (a plain function: a stop raises KeyboardInterrupt) ---


def produce(interval: float) -> None:
    """Put a numbered job on the shared queue every ``interval`` seconds."""
    mux = get_multiplexer()
    jobs = mux.shared_ctx.jobs
    log.info("%s [pid %d] producing a job every %g s", mux.name, mux.pid, interval)
    number = 0
    try:
        while True:
            number += 1
            jobs.put((number, time.time()))
            if number % 5 == 0:
                log.info("%s sees: %s", mux.name, _summary(mux.workers))
            time.sleep(interval)
    except KeyboardInterrupt:
        log.info("%s [pid %d] stopping after %d job(s)", mux.name, mux.pid, number)


def _summary(workers: dict[str, dict[str, Any]]) -> str:
    parts = []
    for name, entry in workers.items():
        if "state" not in entry:  # Hurtle-Main carries only its pid
            parts.append(f"{name} pid={entry['pid']}")
        else:
            parts.append(
                f"{name} {entry['state']} pid={entry.get('pid')} jobs={entry.get('jobs_done', 0)}"
            )
    return "; ".join(parts)


# --- the main process ---


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "port",
        nargs="?",
        type=int,
        default=int(os.environ.get("HURTLE_DEMO_PORT", "0")),
        help="TCP port on 127.0.0.1 (default: $HURTLE_DEMO_PORT or 0, any free port)",
    )
    parser.add_argument("--workers", type=int, default=2, help="server workers (default 2)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between jobs")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    # Bound once, here: every worker (and every restarted worker) serves this socket.
    sock = bind_tcp("127.0.0.1", args.port)
    port = sock.getsockname()[1]
    # Shared objects are created in the main process before the workers start.
    shared = SharedContext(jobs=multiprocessing.get_context("spawn").Queue())
    manager = WorkerManager(echo_worker, workers=args.workers, sockets=[sock], shared_ctx=shared)
    manager.manage("Producer", produce, {"interval": args.interval})

    print(
        f"queue_workers: listening on 127.0.0.1:{port} (main pid {os.getpid()})\n"
        f"  talk to the workers:  nc 127.0.0.1 {port}   (type a line, get it back)\n"
        f"  reload the workers:   kill -HUP {os.getpid()}\n"
        f"  one worker more/less: kill -TTIN {os.getpid()} / kill -TTOU {os.getpid()}\n"
        "  stop:                 Ctrl-C (or SIGTERM); a second Ctrl-C forces",
        flush=True,
    )
    try:
        manager.run()  # blocks until Ctrl-C / SIGTERM, then stops every process
    finally:
        sock.close()
    print("queue_workers: stopped", flush=True)
    return 0


if __name__ == "__main__":  # required: under spawn every worker imports this module
    sys.exit(main())
