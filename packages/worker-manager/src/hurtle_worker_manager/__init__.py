"""hurtle-worker-manager: run, watch and steer the processes of a Python service.

Runs in: both sides (the public API: ``WorkerManager`` for the main process,
``get_multiplexer()`` for managed processes).

A ``WorkerManager`` in the main process runs N server workers plus custom managed
processes, with acks, restarts (zero downtime), runtime scaling, crash recovery,
heartbeats and shared context. Inside each process, ``get_multiplexer()`` returns its
handle on the manager. Needs nothing but msgspec.
"""

import importlib

from hurtle_worker_manager.__about__ import __version__

TYPE_CHECKING = False  # not typing's: importing typing costs milliseconds (see below)
if TYPE_CHECKING:
    from hurtle_worker_manager.errors import (
        AddressInUseError,
        CommandError,
        CrashLoopError,
        StartupError,
        TargetError,
        UsageError,
        WorkerManagerError,
    )
    from hurtle_worker_manager.manager import WorkerManager
    from hurtle_worker_manager.multiplexer import Multiplexer, Reply, get_multiplexer
    from hurtle_worker_manager.shared_ctx import SharedContext
    from hurtle_worker_manager.sockets import bind_tcp, bind_unix
    from hurtle_worker_manager.state import ProcessState
    from hurtle_worker_manager.worker import ProcessGroup, Worker

# Imported on first use, so that importing one module of the package (the forkserver's
# template, started as early as possible: ``template``) does not import all of it.
_EXPORTS = {
    "AddressInUseError": "hurtle_worker_manager.errors",
    "CommandError": "hurtle_worker_manager.errors",
    "CrashLoopError": "hurtle_worker_manager.errors",
    "StartupError": "hurtle_worker_manager.errors",
    "TargetError": "hurtle_worker_manager.errors",
    "UsageError": "hurtle_worker_manager.errors",
    "WorkerManagerError": "hurtle_worker_manager.errors",
    "WorkerManager": "hurtle_worker_manager.manager",
    "Multiplexer": "hurtle_worker_manager.multiplexer",
    "Reply": "hurtle_worker_manager.multiplexer",
    "get_multiplexer": "hurtle_worker_manager.multiplexer",
    "SharedContext": "hurtle_worker_manager.shared_ctx",
    "bind_tcp": "hurtle_worker_manager.sockets",
    "bind_unix": "hurtle_worker_manager.sockets",
    "ProcessState": "hurtle_worker_manager.state",
    "ProcessGroup": "hurtle_worker_manager.worker",
    "Worker": "hurtle_worker_manager.worker",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hurtle_worker_manager' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AddressInUseError",
    "CommandError",
    "CrashLoopError",
    "Multiplexer",
    "ProcessGroup",
    "ProcessState",
    "Reply",
    "SharedContext",
    "StartupError",
    "TargetError",
    "UsageError",
    "Worker",
    "WorkerManager",
    "WorkerManagerError",
    "__version__",
    "bind_tcp",
    "bind_unix",
    "get_multiplexer",
]
