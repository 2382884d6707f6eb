"""Streaming in and out, WebSockets, and Hurtle inside an event loop you already run.

    python examples/live.py /tmp/live.sock     # also on 127.0.0.1:$HURTLE_DEMO_PORT (8000)
    curl --unix-socket /tmp/live.sock http://x/ticks?n=3      # a response written as it goes
    curl --unix-socket /tmp/live.sock -T big.bin http://x/upload   # a body read as it arrives
    python -m websockets ws://127.0.0.1:8000/echo                  # a WebSocket echo

No ``app.run()`` here: ``main()`` is your program's own ``asyncio.run``, and it starts the
app with ``await app.create_server(...)`` twice (TCP and a Unix socket), next to other
work of its own, then stops both on SIGINT/SIGTERM.
"""

import asyncio
import os
import signal
import sys

from hurtle import Hurtle, Request
from hurtle.log import logger
from hurtle.response import json

app = Hurtle("live")


@app.get("/ticks")
async def ticks(request: Request):
    """Write one line per tick while the handler runs (request.respond)."""
    response = await request.respond(content_type="text/plain")
    for n in range(int(request.args.get("n", "5"))):
        await response.send(f"tick {n}\n")
        await asyncio.sleep(0.05)
    await response.eof()


@app.put("/upload", stream=True)
async def upload(request: Request):
    """Count the body's bytes as they arrive, never holding it whole."""
    size = chunks = 0
    async for chunk in request.stream:
        size += len(chunk)
        chunks += 1
    return json({"bytes": size, "chunks": chunks})


@app.websocket("/echo")
async def echo(request: Request, ws):
    """Send every message back, upper-cased, until the client closes."""
    async for message in ws:
        await ws.send(message.upper() if isinstance(message, str) else message)


async def main(unix_path: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tcp = await app.create_server("127.0.0.1", port)
    unix = await app.create_server(unix=unix_path)
    logger.info("live ready on port %d and %s", tcp.port, unix_path)
    await stop.wait()
    await tcp.close()
    await unix.close()
    logger.info("live stopped")


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    socket_path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/hurtle-live.sock"
    asyncio.run(main(socket_path, int(os.environ.get("HURTLE_DEMO_PORT", "8000"))))
