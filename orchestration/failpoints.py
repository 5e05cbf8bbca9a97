"""Named points where a test can have the refresh killed, to prove a crash there loses nothing.

`WAREHOUSE_FAILPOINT=<name>` makes the process SIGKILL itself when it reaches that point: no
handler, no `finally`, as a power cut or the OOM killer would. Unset, each point costs one lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "WAREHOUSE_FAILPOINT"


def reached(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
