"""A raw ASGI 3 probe app: it reports what the server gave it and behaves in edge cases.

Served both by Hurtle and by uvicorn in the differential tests, and alone for flow control
and disconnects. Routes (HTTP):
- ``/scope/...``: the scope's fields and the request body's size, as JSON;
- ``/slow-upload``: reads the body slowly (a pause per MiB) and says how much came;
- ``/forever``: streams until the client goes away, then records ``http.disconnect``;
- ``/events``: what ``/forever`` recorded;
- ``/error-before``, ``/error-after``: raise before / after ``http.response.start``;
- ``/empty``: 204; ``/sized``: a body with its content-length;
- ``/sleep?s``: answers after ``s`` seconds (in-flight requests during a drain);
  ``/sleeping``: how many of those are in flight;
- ``/pid``: the worker's pid.
WebSocket ``/ws``: echo (``close:<code>`` closes with that code); ``/ws-deny``: refused.
"""

import asyncio
import json
import os
from urllib.parse import parse_qs

EVENTS: list[str] = []
SLEEPING = [0]


async def app(scope, receive, send):
    kind = scope["type"]
    if kind == "lifespan":
        await lifespan(scope, receive, send)
    elif kind == "http":
        await http(scope, receive, send)
    elif kind == "websocket":
        await websocket(scope, receive, send)


async def lifespan(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if os.environ.get("PROBE_FAIL_STARTUP"):
                await send({"type": "lifespan.startup.failed", "message": "no database"})
                return
            if "state" in scope:
                scope["state"]["probe"] = "ready"
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive):
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def respond(send, status, body, headers=()):
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def scope_report(scope, body):
    return {
        "type": scope["type"],
        "asgi": scope.get("asgi"),
        "http_version": scope.get("http_version"),
        "method": scope.get("method"),
        "scheme": scope.get("scheme"),
        "path": scope.get("path"),
        "raw_path": scope["raw_path"].decode("latin-1") if scope.get("raw_path") else None,
        "query_string": scope.get("query_string", b"").decode("latin-1"),
        "root_path": scope.get("root_path"),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
        "header_types": sorted({type(k).__name__ + type(v).__name__ for k, v in scope["headers"]}),
        "client_host": scope["client"][0] if scope.get("client") else None,
        "server_host": scope["server"][0] if scope.get("server") else None,
        "state": dict(scope["state"]) if "state" in scope else None,
        "body_size": len(body),
    }


async def http(scope, receive, send):
    path = scope["path"].removeprefix(scope.get("root_path", ""))
    query = parse_qs(scope["query_string"].decode())
    if "/scope" in path:
        body = await read_body(receive)
        await respond(send, 200, json.dumps(scope_report(scope, body)).encode())
    elif path == "/slow-upload":
        size, next_pause = 0, 1 << 20
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            if size >= next_pause:
                next_pause += 1 << 20
                await asyncio.sleep(0.004)
            if not message.get("more_body", False):
                break
        await respond(send, 200, json.dumps({"size": size}).encode())
    elif path == "/forever":
        await forever(receive, send)
    elif path == "/events":
        await respond(send, 200, json.dumps(EVENTS).encode())
    elif path == "/error-before":
        raise RuntimeError("before the response")
    elif path == "/error-after":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("after the response started")
    elif path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/sized":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")],
            }
        )
        await send({"type": "http.response.body", "body": b"hel", "more_body": True})
        await send({"type": "http.response.body", "body": b"lo"})
    elif path == "/sleep":
        await read_body(receive)
        SLEEPING[0] += 1
        try:
            await asyncio.sleep(float(query.get("s", ["0.5"])[0]))
        finally:
            SLEEPING[0] -= 1
        await respond(send, 200, json.dumps({"slept": True, "pid": os.getpid()}).encode())
    elif path == "/sleeping":
        await respond(send, 200, json.dumps({"sleeping": SLEEPING[0]}).encode())
    elif path == "/pid":
        await read_body(receive)
        await respond(send, 200, json.dumps({"pid": os.getpid()}).encode())
    else:
        await respond(send, 404, b'{"error": "not found"}')


async def forever(receive, send):
    disconnected = asyncio.Event()

    async def watch():
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                EVENTS.append("http.disconnect")
                disconnected.set()
                return

    watcher = asyncio.ensure_future(watch())
    await send({"type": "http.response.start", "status": 200, "headers": []})
    chunk = b"x" * 65536
    try:
        while not disconnected.is_set():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(0.001)
    except OSError:
        EVENTS.append("send raised OSError")
    await asyncio.wait_for(disconnected.wait(), 10)
    watcher.cancel()


async def websocket(scope, receive, send):
    message = await receive()
    assert message["type"] == "websocket.connect"
    if scope["path"].endswith("/ws-deny"):
        await send({"type": "websocket.close", "code": 1000})
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is not None and text.startswith("close:"):
            await send({"type": "websocket.close", "code": int(text[6:]), "reason": "bye"})
            return
        if text is not None and text == "pid":
            await send({"type": "websocket.send", "text": str(os.getpid())})
            continue
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes")})
