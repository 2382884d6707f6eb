"""The wire: message schemas stay decodable (golden bytes), frames are strict."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
import pytest

from hurtle_worker_manager.channel import MAX_FRAME, FrameDecoder, FrameError, frame
from hurtle_worker_manager.messages import (
    Ack,
    CommandReply,
    ProcessEntry,
    Request,
    RestartCommand,
    ScaleCommand,
    ScaleResult,
    SetServing,
    StateUpdate,
    StopNotice,
    decode_child_message,
    decode_manager_message,
    encode,
)

# Bytes written by version 0.1.0. They must stay decodable to the same messages.
GOLDEN_CHILD = {
    "81a474797065a361636b": Ack(),
    "82a474797065a773657276696e67a773657276696e67c3": SetServing(serving=True),
    "83a474797065a772657175657374a2696407a7636f6d6d616e6483a474797065a57363616c65a87265706c6963617303a477616974c3": Request(  # noqa: E501
        id=7, command=ScaleCommand(replicas=3, wait=True)
    ),
    "83a474797065a772657175657374a2696408a7636f6d6d616e6486a474797065a772657374617274a56e616d657391b1487572746c652d5365727665722d302d30ab616c6c5f776f726b657273c2ad7a65726f5f646f776e74696d65c3a477616974c2ae72656c6f616465645f66696c657390": Request(  # noqa: E501
        id=8, command=RestartCommand(names=("Hurtle-Server-0-0",), zero_downtime=True)
    ),
}
GOLDEN_MANAGER = {
    # StopNotice is newer than 0.1.0: its bytes are pinned from its first version on.
    "82a474797065a473746f70a6726561736f6ea772657374617274": StopNotice(reason="restart"),
    "84a474797065a57265706c79a2696407a56572726f72a0a6726573756c7483a474797065a57363616c65a87265706c6963617303a7776f726b65727391a161": CommandReply(  # noqa: E501
        id=7, result=ScaleResult(replicas=3, workers=["a"])
    ),
    "83a474797065a57374617465a86d61696e5f7069640aa970726f63657373657381b1487572746c652d5365727665722d302d3086a6736572766572c3a57374617465a541434b4544a37069640ba873746172745f6174d6ff6955b900a673746172747301aa67656e65726174696f6e01": StateUpdate(  # noqa: E501
        main_pid=10,
        processes={
            "Hurtle-Server-0-0": ProcessEntry(
                server=True,
                state="ACKED",
                pid=11,
                start_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                starts=1,
                generation=1,
            )
        },
    ),
}


@pytest.mark.parametrize(("hex_bytes", "message"), GOLDEN_CHILD.items())
def test_golden_child_messages_still_decode(hex_bytes: str, message: object) -> None:
    assert decode_child_message(bytes.fromhex(hex_bytes)) == message
    assert encode(message).hex() == hex_bytes  # type: ignore[arg-type]


@pytest.mark.parametrize(("hex_bytes", "message"), GOLDEN_MANAGER.items())
def test_golden_manager_messages_still_decode(hex_bytes: str, message: object) -> None:
    assert decode_manager_message(bytes.fromhex(hex_bytes)) == message


def test_a_stop_notice_without_a_reason_means_shutdown() -> None:
    assert decode_manager_message(b"\x81\xa4type\xa4stop") == StopNotice(reason="shutdown")


def test_unknown_fields_are_tolerated_and_garbage_is_rejected() -> None:
    newer = msgspec.msgpack.encode({"type": "serving", "serving": False, "added_later": 1})
    assert decode_child_message(newer) == SetServing(serving=False)
    with pytest.raises(msgspec.DecodeError):
        decode_child_message(b"\xc1garbage")
    with pytest.raises(msgspec.ValidationError):
        decode_child_message(msgspec.msgpack.encode({"type": "no-such-message"}))
    with pytest.raises(msgspec.ValidationError):
        decode_child_message(
            encode(Request(id=1, command=ScaleCommand(replicas=2))).replace(b"\x02", b"\xa12")
        )


def test_frames_survive_arbitrary_splits() -> None:
    payloads = [encode(Ack()), b"", encode(SetServing(serving=True)) * 50]
    stream = b"".join(frame(p) for p in payloads)
    for step in (1, 3, 7, len(stream)):
        decoder = FrameDecoder()
        out = []
        for i in range(0, len(stream), step):
            out.extend(decoder.feed(stream[i : i + step]))
        assert out == payloads


def test_oversized_frames_are_refused_both_ways() -> None:
    with pytest.raises(FrameError, match="exceeds"):
        frame(b"x" * (MAX_FRAME + 1))
    decoder = FrameDecoder()
    with pytest.raises(FrameError, match="announced"):
        list(decoder.feed((MAX_FRAME + 1).to_bytes(4, "big")))


def test_garbage_from_a_process_closes_its_channel_and_the_manager_survives(
    manager_log: pytest.LogCaptureFixture,
) -> None:
    import asyncio

    from wm_helpers import acked_servers, running, wait_until

    from hurtle_worker_manager import WorkerManager

    async def scenario() -> None:
        manager = WorkerManager("wm_targets:garbage", workers=1)
        async with running(manager):
            await wait_until(
                lambda: (
                    manager.workers["Hurtle-Server-0-0"]["generation"] >= 2
                    and len(acked_servers(manager)) == 1
                ),
                what="the misbehaving worker to be replaced",
            )
            assert (await manager.scale(2, wait=True)).replicas == 2

    asyncio.run(scenario())
    assert "sent an invalid message" in manager_log.text
