"""Named step boundaries where a test may kill mamd, to prove that a crash anywhere loses nothing.

`crashpoint("grab.fetched")` does nothing unless the environment variable `MAMD_CRASHPOINT` names
that point; then the process sends itself SIGKILL there, as a power cut or the OOM killer would:
no cleanup, no `finally`. Only tests set the variable.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "MAMD_CRASHPOINT"


def crashpoint(name: str) -> None:
    if os.environ.get(VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
