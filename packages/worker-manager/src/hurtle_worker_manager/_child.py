"""What runs first in every managed process: set up, run the target, report, exit.

Runs in: managed processes (the child side; it never imports the main-process side).

The manager starts each process with ``process_main`` as its multiprocessing target.
It wires the channel and the multiplexer, arranges to die with the manager, maps the
stop signals, registers a stack dump for hang diagnosis, then runs the target:
coroutine functions on a fresh event loop with an automatic heartbeat from that loop,
plain functions directly (a stop signal raises ``KeyboardInterrupt`` in them, as the
reference documents). An exception from the target is sent to the manager as a
``Failure`` before the process exits with status 1.
"""

from __future__ import annotations

import asyncio
import faulthandler
import importlib
import inspect
import logging
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable, Coroutine
from typing import IO, Any

from hurtle_worker_manager._platform import set_parent_death_signal, set_thread_name
from hurtle_worker_manager._spec import STACK_SIGNAL, TEMPLATE_MODULE, ProcessSpec
from hurtle_worker_manager.channel import BlockingChannel
from hurtle_worker_manager.messages import Failure
from hurtle_worker_manager.multiplexer import ChildLink, Multiplexer
from hurtle_worker_manager.shared_ctx import SharedContext
from hurtle_worker_manager.target import resolve

__all__ = ["process_main"]

logger = logging.getLogger("hurtle.worker")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_stack_file: IO[str] | None = None


def process_main(
    spec: ProcessSpec,
    channel_sock: socket.socket,
    kwargs: dict[str, Any],
    shared_ctx: SharedContext,
    sockets: tuple[socket.socket, ...],
) -> None:
    """Entry point of every managed process (the multiprocessing target)."""
    _reset_inherited_signals()
    if spec.inherited_peer_fd >= 0:  # fork: drop our copy of the manager's end
        os.close(spec.inherited_peer_fd)
    parent = _expected_parent(spec)
    if set_parent_death_signal() and parent is not None and os.getppid() != parent:
        os._exit(1)  # our parent died before we could arrange to die with it
    if spec.environ is not None:  # forkserver: the main process's environment, not the
        os.environ.clear()  # template's (it has the environment of its own start)
        os.environ.update(spec.environ)
    if spec.umask >= 0:  # forkserver: the main process's umask, not the template's
        os.umask(spec.umask)
    set_thread_name(spec.name.removeprefix("Hurtle-"))
    os.environ["HURTLE_WORKER_NAME"] = spec.name
    _configure_logging(spec)
    channel = BlockingChannel(channel_sock)
    multiplexer = Multiplexer(
        spec.name,
        spec.generation,
        channel,
        shared_ctx=shared_ctx,
        sockets=sockets,
        reloaded_files=spec.reloaded_files,
    )
    link = ChildLink(multiplexer)
    link.install()
    channel.start_reader(link.deliver, lambda: _manager_gone(link))
    _register_stack_dump(spec.stack_path)
    _install_stop_signals(multiplexer)
    code = _run_target(spec, link, kwargs)
    channel.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _expected_parent(spec: ProcessSpec) -> int | None:
    """Our parent's pid: the manager's, or the template's under the forkserver.

    A process forked from the template dies with the template, and the template with the
    main process (see ``_template``). None when the template is not ours, so unknown.
    """
    if spec.start_method != "forkserver":
        return spec.parent_pid
    template = sys.modules.get(TEMPLATE_MODULE)
    pid = getattr(template, "TEMPLATE_PID", None)
    return pid if isinstance(pid, int) and pid != os.getpid() else None


def _run_target(spec: ProcessSpec, link: ChildLink, kwargs: dict[str, Any]) -> int:
    multiplexer = link.multiplexer
    try:
        target = resolve(spec.target)
        if inspect.iscoroutinefunction(target):
            _run_async(target, kwargs, link, spec)
        else:
            target(**kwargs)
    except KeyboardInterrupt:
        if not multiplexer.stopping.is_set():
            return _report_failure(link, "interrupted (KeyboardInterrupt)")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            return _report_failure(link, f"exited with SystemExit({exc.code!r})", code=2)
    except BaseException as exc:  # the target's failure is reported, never re-raised
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        logger.error("%s failed: %s\n%s", spec.name, exc, text)
        return _report_failure(link, f"{type(exc).__name__}: {exc}", text)
    return 0


def _report_failure(link: ChildLink, error: str, text: str = "", code: int = 1) -> int:
    try:
        link.send(Failure(error=error, traceback=text))
    except OSError:
        pass
    return code


def _run_async(
    target: Callable[..., Coroutine[Any, Any, Any]],
    kwargs: dict[str, Any],
    link: ChildLink,
    spec: ProcessSpec,
) -> None:
    multiplexer = link.multiplexer
    loop = _new_loop(spec.loop_factory)
    asyncio.set_event_loop(loop)
    link.attach_loop(loop)
    try:

        def on_stop_signal() -> None:
            if not multiplexer.request_stop():
                main.cancel()  # no stop callback registered: cancelling is the stop

        def take_over_signals() -> None:
            """On the loop's first turn: uvloop acts on a signal only once it runs (one
            caught between add_signal_handler() and the run is noted, never acted on).
            Until then the stop signals keep ``_install_stop_signals``' handler."""
            for sig in _STOP_SIGNALS:
                loop.add_signal_handler(sig, on_stop_signal)
            if multiplexer.stopping.is_set():
                on_stop_signal()

        loop.call_soon(take_over_signals)
        main = loop.create_task(target(**kwargs))
        _beat(loop, multiplexer, spec.heartbeat_interval)
        try:
            loop.run_until_complete(main)
        except asyncio.CancelledError:
            if not multiplexer.stopping.is_set():
                raise
    finally:
        _close_loop(loop)
        link.attach_loop(None)


def _beat(loop: asyncio.AbstractEventLoop, multiplexer: Multiplexer, interval: float) -> None:
    """Send a heartbeat now and every ``interval`` seconds, from the event loop itself."""
    try:
        multiplexer.heartbeat()
    except OSError:
        return
    loop.call_later(interval, _beat, loop, multiplexer, interval)


def _new_loop(factory_path: str | None) -> asyncio.AbstractEventLoop:
    if factory_path:
        try:
            factory = resolve(factory_path)
        except (ImportError, AttributeError) as exc:
            logger.warning(
                "Event loop factory %s unavailable (%s); using asyncio", factory_path, exc
            )
        else:
            loop = factory()
            assert isinstance(loop, asyncio.AbstractEventLoop)
            return loop
    return asyncio.new_event_loop()


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    try:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        for sig in _STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        loop.close()


def _reset_inherited_signals() -> None:
    """Undo what a forked child inherits from the manager's event loop."""
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:
        pass
    for sig in (*_STOP_SIGNALS, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(sig, signal.SIG_DFL)
    importlib.invalidate_caches()


def _install_stop_signals(multiplexer: Multiplexer) -> None:
    """The first SIGINT/SIGTERM stops the process; repeats are ignored.

    Until the target installs its own handling, a stop raises ``KeyboardInterrupt``.
    """

    def on_signal(signum: int, frame: object) -> None:
        if multiplexer.stopping.is_set():
            return
        if not multiplexer.request_stop():
            raise KeyboardInterrupt

    for sig in _STOP_SIGNALS:
        signal.signal(sig, on_signal)


def _register_stack_dump(path: str) -> None:
    """On STACK_SIGNAL, write every thread's Python stack to ``path`` (read by the manager)."""
    global _stack_file
    try:
        _stack_file = open(path, "w")  # noqa: SIM115 - kept open for faulthandler
    except OSError:
        return
    faulthandler.register(STACK_SIGNAL, file=_stack_file, all_threads=True, chain=False)


def _configure_logging(spec: ProcessSpec) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=spec.log_level,
            format="[%(asctime)s] [%(processName)s] [%(levelname)s] %(name)s: %(message)s",
        )
    import multiprocessing

    multiprocessing.current_process().name = spec.name


def _manager_gone(link: ChildLink) -> None:
    """The manager's end closed: it died or is gone. Stop now."""
    multiplexer = link.multiplexer
    link.manager_gone()
    if multiplexer.stopping.is_set():
        return
    logger.error("%s: the manager went away; stopping", multiplexer.name)
    os.kill(os.getpid(), signal.SIGTERM)
