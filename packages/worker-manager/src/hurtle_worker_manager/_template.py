"""The fork server's tie to the main process (the ``forkserver`` start method).

Runs in: the template process (multiprocessing's fork server), which imports this module
last of its preload; the processes forked from it inherit it already imported. Nothing
else imports it: its import is what it does.

- It records the template's pid, so that a forked process can check that its parent is
  still the template once it has arranged to die with it (see ``_child``).
- It asks the kernel to kill the template when the main process dies (Linux), so that the
  template never outlives the main process: the multiprocessing fork server otherwise
  waits until every process it forked has exited as well.
- It freezes the objects the preload made (``gc.freeze()``), so that the garbage
  collector of the forked processes never writes to their pages: they stay shared.
"""

from __future__ import annotations

import gc
import os

from hurtle_worker_manager._platform import set_parent_death_signal

__all__ = ["TEMPLATE_PID"]

TEMPLATE_PID = os.getpid()
"""The template's pid, as the processes forked from it inherit it."""

_main_pid = os.getppid()
if set_parent_death_signal() and os.getppid() != _main_pid:  # pragma: no cover - a race
    os._exit(1)  # the main process died before we could arrange to die with it
gc.freeze()
