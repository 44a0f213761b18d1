"""Output folders that hold a person's conversations: files 0600, folders 0700, whatever the umask.

`private_output(path)` creates the folder (and missing parents) 0700, tightens an existing one the
user owns to 0700, writes under umask 077 (so pyarrow, `datasets` and our own writers create
private files from the first byte), then sets every file and folder it wrote inside to exactly
0600 / 0700: files that existed before keep their old mode otherwise, and umask only removes bits.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def write_private(path: str | Path, payload: bytes) -> None:
    """Write `payload` to `path`, a file only its owner can read (0600 from its creation, whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(payload)


def replace_private(path: str | Path, payload: bytes, mode: int = FILE_MODE, durable: bool = False) -> None:
    """Write `payload` to `path` atomically: a temporary file beside it (0600 from its creation, then `mode`), then a
    rename; `durable`: fsync'd first. Readers see the old bytes or the new, never a part; the temporary file's name
    starts with a dot (a folder's readers skip it)."""
    import tempfile  # (here: every `vault ingest` imports the hooks, and tempfile costs it ~5 ms)

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if mode != FILE_MODE:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def private_dir(path: str | Path) -> Path:
    """Create `path` (and its missing parents) 0700; an existing folder we own is tightened to 0700."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    for p in missing:  # mkdir's mode is filtered by the umask
        os.chmod(p, DIR_MODE)
    st = path.stat()
    if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def lock_down(path: str | Path) -> None:
    """Files under `path` (or `path` itself) 0600, folders 0700; symbolic links are not followed."""
    path = Path(path)
    if path.is_symlink():
        return
    if path.is_dir():
        os.chmod(path, DIR_MODE)
        for root, dirs, files in os.walk(path):
            for d in dirs:
                if not os.path.islink(os.path.join(root, d)):
                    os.chmod(os.path.join(root, d), DIR_MODE)
            for f in files:
                if not os.path.islink(os.path.join(root, f)):
                    os.chmod(os.path.join(root, f), FILE_MODE)
    elif path.exists():
        os.chmod(path, FILE_MODE)


@contextlib.contextmanager
def private_output(path: str | Path) -> Iterator[Path]:
    """Write inside `path` privately (see the module docstring); what was there before is left alone."""
    out = private_dir(path)
    before = _mtimes(out)
    old = os.umask(0o077)  # process-wide, for the duration of one export (the CLI runs one at a time)
    try:
        yield out
    finally:
        os.umask(old)
        for name, mtime in _mtimes(out).items():
            if before.get(name) != mtime:  # written (or rewritten) now
                lock_down(out / name)


def _mtimes(folder: Path) -> dict[str, int]:
    return {e.name: e.stat(follow_symlinks=False).st_mtime_ns for e in os.scandir(folder)}
