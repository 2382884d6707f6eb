"""granian with the same raw ASGI app as uvicorn_app.py: one worker (or N), HTTP/1.1, uvloop.

Granian's HTTP stack is Rust (hyper); the app is the Python ASGI callable of
uvicorn_app.py, so the two ASGI servers run identical application code. No access log.
Run: `python granian_app.py PORT [WORKERS]` (the worker processes are granian's own; SIGINT
or SIGTERM to this process stops it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from granian import Granian
from granian.constants import HTTPModes, Interfaces, Loops

if __name__ == "__main__":
    Granian(
        "uvicorn_app:app",
        address="127.0.0.1",
        port=int(sys.argv[1]),
        interface=Interfaces.ASGI,
        workers=int(sys.argv[2]) if len(sys.argv) > 2 else 1,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        websockets=False,
        log_access=False,
        log_enabled=False,
        working_dir=Path(__file__).parent,
    ).serve()
