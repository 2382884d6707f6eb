"""One ASGI server running one app of asgi_apps.py, single process, no access log.

    python asgi_server.py SERVER APP PORT

SERVER is ``hurtle`` (hurtle_http.AsgiApp on uvloop), ``uvicorn`` (httptools, uvloop,
websockets) or ``granian`` (ASGI interface, 1 worker, uvloop); APP is ``raw`` or
``starlette``.
"""

from __future__ import annotations

import asyncio
import signal
import sys

HOST = "127.0.0.1"


def run_hurtle(app_name: str, port: int) -> None:
    import asgi_apps

    from hurtle_http import AsgiApp, Config, bind_socket, serve
    from hurtle_http.server import new_event_loop

    config = Config()
    config.ACCESS_LOG = False
    app = AsgiApp(getattr(asgi_apps, app_name), config=config)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        server = await serve(app, bind_socket(HOST, port))
        await stop.wait()
        await server.stop(1.0)

    loop = new_event_loop()
    loop.run_until_complete(main())


def run_uvicorn(app_name: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        f"asgi_apps:{app_name}",
        host=HOST,
        port=port,
        loop="uvloop",
        http="httptools",
        ws="websockets",
        lifespan="on",
        access_log=False,
        log_level="warning",
    )


def run_granian(app_name: str, port: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    Granian(
        f"asgi_apps:{app_name}",
        address=HOST,
        port=port,
        interface=Interfaces.ASGI,
        workers=1,
        loop=Loops.uvloop,
        log_access=False,
    ).serve()


if __name__ == "__main__":
    server, app_name, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    {"hurtle": run_hurtle, "uvicorn": run_uvicorn, "granian": run_granian}[server](app_name, port)
