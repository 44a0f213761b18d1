"""Named crash points, for the crash-consistency tests: the process dies there as under `kill -9`.

`VAULT_CRASH_AT=<point>` (or `<point>#<n>`: the n-th time it is reached) makes `crash_point(<point>)`
end the process at once with `os._exit`: no cleanup, no rollback, no flush, like a power cut after
the operating system has what was written. Unset (always, outside the tests), it costs one lookup.
"""

from __future__ import annotations

import os

EXIT_CODE = 137  # what a shell reports for a process killed by SIGKILL
_reached: dict[str, int] = {}


def crash_point(name: str) -> None:
    want = os.environ.get("VAULT_CRASH_AT")
    if not want:
        return
    point, _, nth = want.partition("#")
    if point != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] == int(nth or 1):
        os._exit(EXIT_CODE)
