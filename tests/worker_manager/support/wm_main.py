"""A main program for the signal tests: ``python wm_main.py MODE [START_METHOD]``.

Prints one line ``PIDS <main> <child>...`` once every server acked, then runs until
stopped. MODE ``ack-timeout`` uses a server that never acks and a 1 s threshold; MODE
``probe`` runs one ``wm_targets:probe`` server (with ``wm_preloaded`` preloaded under the
forkserver) and prints ``PROBE <json>``, what it reported, after the ``PIDS`` line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

from hurtle_worker_manager import WorkerManager, WorkerManagerError


async def announce(manager: WorkerManager) -> None:
    while True:
        servers = [e for e in manager.workers.values() if e.get("server") and e["current"]]
        if servers and all(e["state"] == "ACKED" for e in servers):
            pids = [e["pid"] for n, e in manager.workers.items() if e.get("pid")]
            print("PIDS", *pids, flush=True)
            probe = [e["probe"] for e in servers if "probe" in e]
            if probe:
                print("PROBE", json.dumps(probe[0]), flush=True)
            return
        await asyncio.sleep(0.02)


async def main(mode: str, start_method: str) -> int:
    kwargs = {"never_ack": True} if mode == "ack-timeout" else {}
    if mode == "ack-timeout":
        WorkerManager.THRESHOLD = 10
    if mode == "probe":
        preload = ["wm_preloaded"] if start_method == "forkserver" else []
        manager = WorkerManager(
            "wm_targets:probe", start_method=start_method, preload=preload, graceful_timeout=5
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
