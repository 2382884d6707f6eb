"""A module that starts a thread at import: the template warns when it preloads it."""

from __future__ import annotations

import threading

_forever = threading.Event()
threading.Thread(target=_forever.wait, name="wm-threaded-sleeper", daemon=True).start()
