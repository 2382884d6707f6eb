"""Choose hurtle-http's WebSocket protocol library: websockets' sans-I/O layer vs wsproto.

What a server does per message, with no sockets (so only the library is measured): feed one
masked client frame, take the event, answer it with an echo frame and collect the bytes to
write. Text messages of 64 B and 16 KiB; messages/s (median of --rounds). Also the import
cost of what a server imports (a fresh interpreter, median wall time minus `pass`).

    python3 -m hatch run bench:python benchmarks/ws_library_bench.py

Both libraries must be importable (the bench env installs them).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

IMPORTS = {
    "websockets": "import websockets.server, websockets.frames, "
    "websockets.extensions.permessage_deflate",
    "wsproto": "import wsproto, wsproto.events, wsproto.extensions",
}


def client_frames(size: int, count: int) -> list[bytes]:
    """``count`` masked text frames of ``size`` bytes, as a browser would send them."""
    from wsproto.frame_protocol import FrameProtocol, Opcode

    proto = FrameProtocol(client=True, extensions=[])
    text = "x" * size
    frame = proto.send_data(text, fin=True)
    assert frame[0] & 0x0F == Opcode.TEXT
    # A new mask per frame, as a real client does.
    return [proto.send_data(text, fin=True) for _ in range(count)]


def websockets_echo() -> Callable[[bytes], bytes]:
    from websockets.frames import Opcode
    from websockets.protocol import State
    from websockets.server import ServerProtocol

    proto = ServerProtocol(state=State.OPEN, max_size=None)

    def echo(data: bytes) -> bytes:
        proto.receive_data(data)
        for frame in proto.events_received():
            if frame.opcode is Opcode.TEXT:
                proto.send_text(frame.data)
        return b"".join(proto.data_to_send())

    return echo


def wsproto_echo() -> Callable[[bytes], bytes]:
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Message, TextMessage

    conn = WSConnection(ConnectionType.SERVER)
    conn.initiate_upgrade_connection(
        [
            (b"host", b"t"),
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
            (b"sec-websocket-version", b"13"),
        ],
        "/",
    )
    list(conn.events())
    conn.send(AcceptConnection())

    def echo(data: bytes) -> bytes:
        conn.receive_data(data)
        out = b""
        for event in conn.events():
            if isinstance(event, TextMessage):
                out += conn.send(Message(data=event.data))
        return out

    return echo


LIBRARIES = {"websockets": websockets_echo, "wsproto": wsproto_echo}


def messages_per_second(make: Callable[[], Callable[[bytes], bytes]], frames: list[bytes]) -> float:
    echo = make()
    start = time.perf_counter()
    for frame in frames:
        if not echo(frame):
            raise AssertionError("no echo")
    return len(frames) / (time.perf_counter() - start)


def import_ms(statement: str, runs: int = 7) -> float:
    def timed(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    base = statistics.median(timed("pass") for _ in range(runs))
    return 1000 * (statistics.median(timed(statement) for _ in range(runs)) - base)


def version(name: str) -> str:
    from importlib.metadata import version as dist_version

    return dist_version(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="messages per run (20000)")
    parser.add_argument("--rounds", type=int, default=5, help="runs per case (5)")
    args = parser.parse_args()
    sizes = (64, 16 * 1024)
    table = []
    for name, make in LIBRARIES.items():
        row = [f"{name} {version(name)}"]
        for size in sizes:
            frames = client_frames(size, args.count if size < 1024 else args.count // 4)
            rates = [messages_per_second(make, frames) for _ in range(args.rounds)]
            row.append(f"{statistics.median(rates):,.0f}")
        row.append(f"{import_ms(IMPORTS[name]):.1f}")
        table.append(row)
    header = ["library", "echo 64 B msg/s", "echo 16 KiB msg/s", "import ms"]
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *table]:
        cells = zip(row, widths, strict=True)
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(cells)))


if __name__ == "__main__":
    main()
