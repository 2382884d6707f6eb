"""The main process's stand-in for the inspector, on a real socket, fed the manager's states."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

from testkit import wait_until_async

from hurtle_http import bind_socket
from hurtle_inspector import Standby
from hurtle_worker_manager.messages import ProcessEntry, StateUpdate

NAME = "Hurtle-Inspector-0"


def state(inspector: str | None, *, phase: str = "") -> StateUpdate:
    entries = {} if inspector is None else {NAME: ProcessEntry(server=False, state=inspector)}
    return StateUpdate(main_pid=1, processes=entries, phase=phase)


async def ask(port: int, method: str = "GET", path: str = "/health") -> tuple[int, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5.0)  # the stand-in closes after answering
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def until_serving(standby: Standby, serving: bool) -> None:
    await wait_until_async(
        lambda: standby.serving is serving, what=f"serving={serving}", timeout=5.0, interval=0.005
    )


def test_it_answers_starting_then_restarting_and_steps_aside_for_an_acked_inspector() -> None:
    async def scenario() -> list[tuple[int, Any] | str]:
        sock = bind_socket("127.0.0.1", 0)
        port = sock.getsockname()[1]
        stopping = False
        standby = Standby(sock, stopping=lambda: stopping)
        seen: list[tuple[int, Any] | str] = []
        try:
            standby.update(state("STARTED"))  # the first inspector is starting
            await until_serving(standby, True)
            seen.append(await ask(port))
            standby.update(state("ACKED"))  # it answers: the stand-in steps aside at once
            seen.append("serving" if standby.serving else "stepped aside")
            await until_serving(standby, False)
            standby.update(state("FAILED"))  # it crashed: restarting from now on
            await until_serving(standby, True)
            seen.append(await ask(port))
            stopping = True
            seen.append(await ask(port, "POST", "/scale"))
            seen.append(await ask(port))
        finally:
            await standby.close()
            sock.close()
        return seen

    starting, after_ack, restarting, command, info = asyncio.run(scenario())
    assert starting == (
        503,
        {"meta": {"action": "health"}, "error": ("The inspector is starting: retry in a moment")},
    )
    assert after_ack == "stepped aside"  # at once, before the snapshot reaches the inspector
    assert restarting == (
        503,
        {"meta": {"action": "health"}, "error": ("The inspector is restarting: retry in a moment")},
    )
    assert command == (
        409,
        {
            "meta": {"action": "scale"},
            "error": ("The manager refused: The server is shutting down"),
        },
    )
    assert info == (503, {"meta": {"action": "health"}, "error": "The server is shutting down"})


def test_nothing_reaches_it_once_the_inspector_acked() -> None:
    async def scenario() -> int:
        sock = bind_socket("127.0.0.1", 0)
        port = sock.getsockname()[1]
        standby = Standby(sock)
        try:
            standby.update(state(None))
            await until_serving(standby, True)
            standby.update(state("ACKED"))  # no await in between: it stopped accepting here
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
            client.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            await until_serving(standby, False)
            client.settimeout(0.3)
            try:
                answered = len(client.recv(1024))
            except TimeoutError:
                answered = 0  # still queued, for the inspector
            client.close()
            return answered
        finally:
            await standby.close()
            sock.close()

    assert asyncio.run(scenario()) == 0


def test_an_inspector_that_dies_right_after_its_ack_gets_a_fresh_stand_in() -> None:
    """Down, acked, down again before the stand-in drained: it answers again, never hangs."""

    async def scenario() -> tuple[int, Any]:
        sock = bind_socket("127.0.0.1", 0)
        port = sock.getsockname()[1]
        standby = Standby(sock)
        try:
            standby.update(state("STARTED"))
            await until_serving(standby, True)
            standby.update(state("ACKED"))  # it stops accepting...
            standby.update(state("FAILED"))  # ...and must accept again, on a new server
            await until_serving(standby, True)
            return await ask(port)
        finally:
            await standby.close()
            sock.close()

    assert asyncio.run(scenario()) == (
        503,
        {"meta": {"action": "health"}, "error": "The inspector is restarting: retry in a moment"},
    )
