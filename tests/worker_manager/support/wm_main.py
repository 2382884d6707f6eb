"""A main program for the signal tests: ``python wm_main.py MODE [START_METHOD]``.

Prints one line ``PIDS <main> <child>...`` once every server acked, then runs until
stopped. MODE ``ack-timeout`` uses a server that never acks and a 1 s threshold; MODE
``probe`` runs one ``wm_targets:probe`` server (with ``wm_preloaded``, and the modules named
in ``WM_EXTRA_PRELOAD``, preloaded under the forkserver) and prints ``PROBE <json>``, what
it reported, after the ``PIDS`` line. MODE ``shared`` runs two ``wm_targets:queue_server``
with a shared ``Queue`` and ``Value`` and prints ``SHARED <json>`` after the ``PIDS``
line: the pids the queue carried, the count, and the names of the named semaphores behind
them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import sys
from typing import Any

from hurtle_worker_manager import SharedContext, WorkerManager, WorkerManagerError


async def announce(manager: WorkerManager) -> None:
    while True:
        servers = [e for e in manager.workers.values() if e.get("server") and e["current"]]
        if servers and all(e["state"] == "ACKED" for e in servers):
            pids = [e["pid"] for n, e in manager.workers.items() if e.get("pid")]
            print("PIDS", *pids, flush=True)
            probe = [e["probe"] for e in servers if "probe" in e]
            if probe:
                print("PROBE", json.dumps(probe[0]), flush=True)
            if "queue" in manager.shared_ctx.items():
                print("SHARED", json.dumps(await _shared(manager.shared_ctx)), flush=True)
            return
        await asyncio.sleep(0.02)


async def _shared(shared: SharedContext) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    queue, hits = shared.queue, shared.hits
    pids = [await loop.run_in_executor(None, queue.get, True, 10) for _ in range(2)]
    locks = [queue._rlock, queue._wlock, queue._sem, hits.get_lock()]
    names = [lock._semlock.name for lock in locks if lock is not None]
    return {"pids": pids, "hits": hits.value, "semaphores": [n for n in names if n]}


async def main(mode: str, start_method: str) -> int:
    kwargs = {"never_ack": True} if mode == "ack-timeout" else {}
    if mode == "ack-timeout":
        WorkerManager.THRESHOLD = 10
    if mode == "probe":
        extra = os.environ.get("WM_EXTRA_PRELOAD", "").split()
        preload = ["wm_preloaded", *extra] if start_method == "forkserver" else []
        manager = WorkerManager(
            "wm_targets:probe", start_method=start_method, preload=preload, graceful_timeout=5
        )
    elif mode == "shared":
        context = multiprocessing.get_context(start_method)
        manager = WorkerManager(
            "wm_targets:queue_server",
            workers=2,
            graceful_timeout=5,
            start_method=start_method,
            shared_ctx=SharedContext(queue=context.Queue(), hits=context.Value("i", 0)),
        )
    else:
        manager = WorkerManager(
            "wm_targets:server",
            workers=2,
            server_kwargs=kwargs,
            graceful_timeout=5,
            start_method=start_method,
        )
        manager.manage("Helper", "wm_targets:sync_worker", {"tag": "helper"})
    announcer = asyncio.ensure_future(announce(manager))
    try:
        await manager.serve()
    except WorkerManagerError as exc:
        print(f"FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        announcer.cancel()
    print("STOPPED CLEANLY", flush=True)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(processName)s %(message)s")
    start_method = sys.argv[2] if len(sys.argv) > 2 else "spawn"
    sys.exit(asyncio.run(main(sys.argv[1], start_method)))
