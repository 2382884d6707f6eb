"""Targets run by managed processes in the worker-manager tests (imported by path)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from typing import Any

from hurtle_worker_manager import get_multiplexer


async def server(
    *,
    fail_before_ack: bool = False,
    never_ack: bool = False,
    block_after_ack: bool = False,
    drain_seconds: float = 0.0,
    fail_if_generation_above: int = 0,
    ack_only_first: bool = False,
    fail_while_exists: str = "",
    **_: Any,
) -> None:
    """An async server: acks, reports what it sees, waits for the stop request."""
    mux = get_multiplexer()
    if fail_if_generation_above and mux.generation > fail_if_generation_above:
        raise RuntimeError(f"generation {mux.generation} refuses to start")
    if fail_while_exists and mux.generation > 1 and _flag_exists(fail_while_exists):
        raise RuntimeError(f"generation {mux.generation} refuses to start while the flag exists")
    if fail_before_ack:
        raise RuntimeError("boom while starting")
    stop = asyncio.Event()
    mux.on_stop(stop.set)
    mux.report("probe", {"pid": os.getpid(), "generation": mux.generation})
    if never_ack or (ack_only_first and mux.generation > 1):
        await stop.wait()
        return
    mux.ack()
    if block_after_ack:
        await asyncio.sleep(0.3)
        time.sleep(3600)  # noqa: ASYNC251 - the loop is stuck on purpose: no more heartbeats
    await stop.wait()
    if drain_seconds:
        mux.report("drain", "started")
        await asyncio.sleep(drain_seconds)
        mux.report("drain", "finished")


async def probe(**_: Any) -> None:
    """Acks after reporting where it runs and what it inherited (the start method tests)."""
    already = "wm_preloaded" in sys.modules
    import wm_preloaded

    mux = get_multiplexer()
    stop = asyncio.Event()
    mux.on_stop(stop.set)
    mux.report(
        "probe",
        {
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "preloaded": already,
            "preloaded_in": wm_preloaded.IMPORTED_IN,
            "mark": os.environ.get("WM_TEST_MARK", ""),
            "version": _read_version(),
            "umask": _umask(),
        },
    )
    if os.environ.get("WM_PROBE_PRINTS"):  # where its output goes (the start method tests)
        print(f"probe {os.getpid()} on stdout", flush=True)
        print(f"probe {os.getpid()} on stderr", file=sys.stderr, flush=True)
    mux.ack()
    await stop.wait()


async def later_probe(**_: Any) -> None:
    """Acks after reporting where ``wm_preloaded_later`` was imported and who its parent is."""
    import wm_preloaded_later

    mux = get_multiplexer()
    stop = asyncio.Event()
    mux.on_stop(stop.set)
    mux.report("later", {"imported_in": wm_preloaded_later.IMPORTED_IN, "ppid": os.getppid()})
    mux.ack()
    await stop.wait()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _read_version() -> str:
    """``VERSION`` of the module ``wm_edited`` if a test wrote one (the reload tests)."""
    try:
        import wm_edited
    except ImportError:
        return ""
    return str(wm_edited.VERSION)


async def viewer(**_: Any) -> None:
    """Acks, then reports the names it can read in its multiplexer's state table."""
    mux = get_multiplexer()
    stop = asyncio.Event()
    mux.on_stop(stop.set)
    mux.ack()
    while not stop.is_set():
        seen = sorted(name for name, entry in mux.workers.items() if entry.get("state") == "ACKED")
        mux.report("seen", seen)
        try:
            await asyncio.wait_for(stop.wait(), 0.1)
        except asyncio.TimeoutError:
            pass


async def table_reader(path: str, **_: Any) -> None:
    """Acks, then keeps reading its state table, appending what it read to ``path``.

    The file is a side channel the manager does not carry, so a test can watch the reads
    while the manager's loop is blocked.
    """
    mux = get_multiplexer()
    stop = asyncio.Event()
    mux.on_stop(stop.set)
    mux.ack()
    while not stop.is_set():
        table = mux.workers
        acked = sorted(name for name, entry in table.items() if entry.get("state") == "ACKED")
        _append_line(path, ",".join(acked))
        try:
            await asyncio.wait_for(stop.wait(), 0.01)
        except asyncio.TimeoutError:
            pass


def _append_line(path: str, line: str) -> None:
    with open(path, "a") as out:
        out.write(line + "\n")


async def counter(**_: Any) -> None:
    """Increments the shared ``hits`` Value once per start, then serves until stopped."""
    mux = get_multiplexer()
    with mux.shared_ctx.hits.get_lock():
        mux.shared_ctx.hits.value += 1
    stop = asyncio.Event()
    mux.on_stop(stop.set)
    mux.ack()
    await stop.wait()


async def queue_server(**_: Any) -> None:
    """Counts itself in the shared ``hits`` Value, puts its pid on the shared ``queue``, acks."""
    mux = get_multiplexer()
    with mux.shared_ctx.hits.get_lock():
        mux.shared_ctx.hits.value += 1
    mux.shared_ctx.queue.put(os.getpid())
    stop = asyncio.Event()
    mux.on_stop(stop.set)
    mux.ack()
    await stop.wait()


async def commander(*, command: str, argument: int = 0, **_: Any) -> None:
    """Acks, then sends one command through the multiplexer and reports the outcome."""
    mux = get_multiplexer()
    stop = asyncio.Event()
    mux.on_stop(stop.set)
    mux.ack()
    if mux.generation == 1:
        try:
            if command == "scale":
                result: object = await mux.scale(argument, wait=True)
            elif command == "scale-raw":
                from hurtle_worker_manager.messages import ScaleCommand

                result = await mux.send_command(ScaleCommand(replicas=argument))
            elif command == "restart-self":
                result = await mux.restart()
            elif command == "manage":
                result = await mux.manage("Side", "wm_targets:sync_worker", {"tag": "side"})
            else:
                result = f"unknown {command}"
            mux.report("outcome", {"ok": True, "result": repr(result)})
        except Exception as exc:
            mux.report("outcome", {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    await stop.wait()


def sync_worker(*, tag: str = "", **_: Any) -> None:
    """A plain function: loops until the stop signal raises KeyboardInterrupt."""
    mux = get_multiplexer()
    mux.report("tag", tag)
    try:
        while True:
            time.sleep(0.05)
    except KeyboardInterrupt:
        mux.report("tag", f"{tag}:stopped")


def finishing_worker(**_: Any) -> None:
    """Does its job and returns (exit status 0: COMPLETED)."""
    get_multiplexer().report("done", True)


def tcp_pid_server(**_: Any) -> None:
    """Answers every connection on the shared listening socket with its pid.

    Stops gracefully: a stop request ends the accept loop, never a connection it took.
    """
    mux = get_multiplexer()
    stopping = threading.Event()
    mux.on_stop(stopping.set)
    listener = mux.sockets[0]
    listener.settimeout(0.05)
    mux.ack()
    while not stopping.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        with conn:
            conn.sendall(str(os.getpid()).encode())


async def garbage(**_: Any) -> None:
    """Acks, then (first generation only) writes a frame that is not a message."""
    mux = get_multiplexer()
    stop = asyncio.Event()
    mux.on_stop(stop.set)
    mux.ack()
    if mux.generation == 1:
        mux._channel.send(b"\xc1 this is not msgpack")
    await stop.wait()


async def acking_custom(**_: Any) -> None:
    """A non-server process that acks, then reports the manager's scaling bound it reads."""
    mux = get_multiplexer()
    stop = asyncio.Event()
    mux.on_stop(stop.set)
    mux.ack()
    while not stop.is_set():
        if mux.max_workers:
            mux.report("max_workers", mux.max_workers)
            break
        await asyncio.sleep(0.02)
    await stop.wait()


async def counting_server(*, step: float = 0.02, **_: Any) -> None:
    """Acks, then reports ``{"served": n}`` with n growing by one every ``step`` seconds."""
    mux = get_multiplexer()
    stop = asyncio.Event()
    mux.on_stop(stop.set)
    mux.ack()
    served = 0
    while not stop.is_set():
        served += 1
        mux.report("count", {"served": served, "label": "not a number"})
        try:
            await asyncio.wait_for(stop.wait(), step)
        except asyncio.TimeoutError:
            pass


def _flag_exists(path: str) -> bool:
    return os.path.exists(path)


async def stop_reason_recorder(*, folder: str, **_: Any) -> None:
    """Acks, waits for the stop, then writes the manager's stop reason to ``folder``
    (waiting for it as a server worker does, longer: the tests run on a loaded machine)."""
    mux = get_multiplexer()
    stop = asyncio.Event()
    mux.on_stop(stop.set)
    mux.ack()
    await stop.wait()
    deadline = time.monotonic() + 5.0  # the notice is read by the channel's thread
    while not mux.stop_reason and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    path = os.path.join(folder, f"{mux.name}.{mux.generation}")
    with open(path, "w") as out:  # noqa: ASYNC230 - a tiny write while stopping
        out.write(mux.stop_reason)
