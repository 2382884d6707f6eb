"""The fork server's tie to the main process (the ``forkserver`` start method).

Runs in: the template process (multiprocessing's fork server), which imports this module
last of its preload; the processes forked from it inherit it already imported. Nothing
else imports it: its import is what it does.

- It records the template's pid, so that a forked process can check that its parent is
  still the template once it has arranged to die with it (see ``_child``).
- It asks the kernel to kill the template when the main process dies (Linux), so that the
  template never outlives the main process: the multiprocessing fork server otherwise
  waits until every process it forked has exited as well.
- It ignores SIGTERM and SIGHUP (multiprocessing already makes it ignore SIGINT): a stop
  signal sent to the whole process group (Ctrl-C, systemd's ``KillMode=control-group``)
  must reach the main process and the workers, which drain, and not kill the template,
  whose death would kill the workers at once. The template goes with the main process;
  each forked process gets the default actions back at once.
- It freezes the objects the preload made (``gc.freeze()``), so that the garbage
  collector of the forked processes never writes to their pages: they stay shared.
"""

from __future__ import annotations

import gc
import os
import signal

from hurtle_worker_manager._platform import set_parent_death_signal

__all__ = ["TEMPLATE_PID"]

TEMPLATE_PID = os.getpid()
"""The template's pid, as the processes forked from it inherit it."""

_IGNORED = (signal.SIGTERM, signal.SIGHUP)


def _default_signals() -> None:
    """In each forked process, before anything else: these signals act as under spawn."""
    for sig in _IGNORED:
        signal.signal(sig, signal.SIG_DFL)


_main_pid = os.getppid()
if set_parent_death_signal() and os.getppid() != _main_pid:  # pragma: no cover - a race
    os._exit(1)  # the main process died before we could arrange to die with it
for _sig in _IGNORED:
    signal.signal(_sig, signal.SIG_IGN)
os.register_at_fork(after_in_child=_default_signals)
gc.freeze()
