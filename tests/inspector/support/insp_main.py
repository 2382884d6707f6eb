"""Run a worker manager with server workers and the inspector, as the meta-package will.

Usage: ``python insp_main.py '<json options>'``. Prints one JSON line with the ports and
the main pid once the sockets are bound, then runs until shutdown.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from hurtle_http import bind_socket
from hurtle_inspector import InspectorSettings
from hurtle_worker_manager import WorkerManager


def main(options: dict[str, object]) -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="[%(asctime)s] [%(processName)s] %(levelname)s %(name)s: %(message)s",
    )
    config = dict(options.get("config", {}))  # type: ignore[call-overload]
    config.setdefault("INSPECTOR_HOST", "127.0.0.1")
    config.setdefault("INSPECTOR_PORT", 0)
    settings = InspectorSettings.from_config(
        config,
        app_name="ProbeApp",
        inspector_class=str(options.get("inspector_class", "hurtle_inspector:Inspector")),
        mode="production, w/ test workers",
        server="hurtle-http",
        extra={"suite": "inspector"},
    )
    app_sock = bind_socket("127.0.0.1", 0)
    inspector_sock = bind_socket(settings.host, settings.port)
    manager = WorkerManager(
        "insp_targets:http_server",
        workers=int(options.get("workers", 2)),  # type: ignore[call-overload]
        server_kwargs=dict(options.get("server_kwargs", {})),  # type: ignore[call-overload]
        sockets=[app_sock],
        start_method=str(options.get("start_method", "fork")),
        max_workers=int(options.get("max_workers", 6)),  # type: ignore[call-overload]
        graceful_timeout=5.0,
        **dict(options.get("manager", {})),  # type: ignore[call-overload]
    )
    kwargs: dict[str, object] = {"sock": inspector_sock, "settings": settings}
    line = {
        "pid": os.getpid(),
        "app_port": app_sock.getsockname()[1],
        "inspector_port": inspector_sock.getsockname()[1],
    }
    if settings.metrics_port is not None:
        kwargs["metrics_sock"] = bind_socket(settings.metrics_host or "127.0.0.1", 0)
        line["metrics_port"] = kwargs["metrics_sock"].getsockname()[1]  # type: ignore[attr-defined]
    manager.manage(
        "Inspector",
        "hurtle_inspector:serve_inspector",
        kwargs,
        transient=False,
        restartable=True,
    )
    print(json.dumps(line), flush=True)
    os.dup2(2, 1)  # from now on, what any process prints goes to the log
    manager.run()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
