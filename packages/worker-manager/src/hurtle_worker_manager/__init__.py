"""hurtle-worker-manager: run, watch and steer the processes of a Python service.

Runs in: both sides (the public API: ``WorkerManager`` for the main process,
``get_multiplexer()`` for managed processes).

A ``WorkerManager`` in the main process runs N server workers plus custom managed
processes, with acks, restarts (zero downtime), runtime scaling, crash recovery,
heartbeats and shared context. Inside each process, ``get_multiplexer()`` returns its
handle on the manager. Needs nothing but msgspec.
"""

from hurtle_worker_manager.__about__ import __version__
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
