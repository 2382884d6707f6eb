"""A load client that accounts for every request: what wrk lumps into "socket errors", split.

`C` keep-alive connections each send `GET /pid` (the answer names the worker process) one
after the other, as wrk does. Every request ends in exactly one outcome:

- `ok`: 200; `status NNN`: any other status;
- `refused`: connecting failed (nothing accepted the connection);
- `connect timeout`: connecting took longer than the timeout;
- `closed, reused conn`: the server closed (or reset) a keep-alive connection that had
  already carried a response, before answering the request just sent on it. This is the
  keep-alive race that a client such as urllib3 retries for an idempotent request;
- `closed, new conn`: the server closed or reset a connection it had just accepted,
  without answering: a request dropped outright;
- `timeout`: no complete answer within the timeout.

A response with `Connection: close` is not an error: the client reconnects, as wrk does.
Beside the load, a prober opens a fresh connection every `PROBE_INTERVAL` to `GET /pid`
(also counted), so that a worker which gets no keep-alive connection is seen answering too.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field

from httpbench.model import HOST

REQUEST = b"GET /pid HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
PROBE = b"GET /pid HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
PROBE_INTERVAL = 0.02  # seconds between the prober's fresh connections
OK = "ok"
CLOSED_REUSED = "closed, reused conn"
CLOSED_NEW = "closed, new conn"
OUTCOMES = (OK, "refused", "connect timeout", CLOSED_REUSED, CLOSED_NEW, "timeout")


@dataclass
class Load:
    """What the client saw: outcome counts, latencies, when each worker pid first answered."""

    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    first_answer: dict[int, float] = field(default_factory=dict)  # pid -> monotonic time
    last_ok: float = 0.0
    longest_gap: float = 0.0  # the longest time without any 200, over all connections
    stopping: bool = False

    def ok(self, pid: int, started: float) -> None:
        """Record a 200 from worker `pid` for a request sent at `started`."""
        now = time.monotonic()
        self.outcomes[OK] += 1
        self.latencies.append(now - started)
        self.first_answer.setdefault(pid, now)
        if self.last_ok:
            self.longest_gap = max(self.longest_gap, now - self.last_ok)
        self.last_ok = now

    @property
    def total(self) -> int:
        """Every request sent (or attempted: a failed connect counts as one)."""
        return sum(self.outcomes.values())

    @property
    def failed(self) -> int:
        """Every request that did not get a 200."""
        return self.total - self.outcomes[OK]

    def non_2xx(self) -> int:
        """Requests answered with a status outside 200-299."""
        return sum(n for k, n in self.outcomes.items() if k.startswith("status ") and k[7] != "2")


class Answer(Exception):
    """The connection ended before a complete answer: the outcome names how."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes, reused: bool
) -> tuple[int, bytes, bool]:
    """Send one request; (status, body, keep-alive) of its answer, or raise Answer."""
    closed = CLOSED_REUSED if reused else CLOSED_NEW
    try:
        writer.write(data)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise Answer(closed) from exc
    return status, body, headers.get("connection", "").lower() != "close"


async def connection(port: int, load: Load, timeout: float) -> None:
    """One keep-alive connection after another, until `load.stopping`."""
    while not load.stopping:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
        except asyncio.TimeoutError:
            load.outcomes["connect timeout"] += 1
            continue
        except OSError:
            load.outcomes["refused"] += 1
            await asyncio.sleep(0.01)  # do not spin on a closed port
            continue
        reused = False
        try:
            while not load.stopping:
                started = time.monotonic()
                try:
                    status, body, keep = await asyncio.wait_for(
                        exchange(reader, writer, REQUEST, reused), timeout
                    )
                except Answer as exc:
                    load.outcomes[exc.outcome] += 1
                    break
                except asyncio.TimeoutError:
                    load.outcomes["timeout"] += 1
                    break
                if status == 200:
                    load.ok(json.loads(body)["pid"], started)
                else:
                    load.outcomes[f"status {status}"] += 1
                reused = True
                if not keep:
                    break
        finally:
            writer.close()


async def prober(port: int, load: Load, timeout: float) -> None:
    """A fresh `Connection: close` request every PROBE_INTERVAL, counted like the others."""
    while not load.stopping:
        started = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
        except asyncio.TimeoutError:
            load.outcomes["connect timeout"] += 1
            continue
        except OSError:
            load.outcomes["refused"] += 1
        else:
            try:
                status, body, _ = await asyncio.wait_for(
                    exchange(reader, writer, PROBE, False), timeout
                )
                if status == 200:
                    load.ok(json.loads(body)["pid"], started)
                else:
                    load.outcomes[f"status {status}"] += 1
            except Answer as exc:
                load.outcomes[exc.outcome] += 1
            except asyncio.TimeoutError:
                load.outcomes["timeout"] += 1
            finally:
                writer.close()
        await asyncio.sleep(PROBE_INTERVAL)


def start_load(port: int, load: Load, connections: int, timeout: float) -> list[asyncio.Task[None]]:
    """Start the connections and the prober in the running loop; set load.stopping to end."""
    tasks = [asyncio.create_task(connection(port, load, timeout)) for _ in range(connections)]
    tasks.append(asyncio.create_task(prober(port, load, timeout)))
    return tasks


async def finish(tasks: list[asyncio.Task[None]], load: Load, timeout: float) -> None:
    """Stop the load: every request in flight completes or times out (and is counted)."""
    load.stopping = True
    await asyncio.wait(tasks, timeout=timeout + 1.0)
    for task in tasks:
        task.cancel()
