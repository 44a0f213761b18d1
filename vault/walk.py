"""Walking the paths named to `vault ingest`, and what the vault knows of each file to tell what changed.

A file is named by its path (`path_key`); a change is told by size, mtime and a fingerprint of the bytes
before the stored offset (a rewrite changes it, an append does not).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from vault.sources import candidate_suffixes

FINGERPRINT_SPAN = 4096

# Companion files we know and do not parse as transcripts.
IGNORED_NAMES = (".meta.json",)
IGNORED_DIRS = {".git", "node_modules", "__pycache__", ".venv"}
SPECIAL_FILE_TYPES = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
               (stat.S_ISBLK, "a device"))


class FileRow(NamedTuple):
    """What the vault remembers of a file (a row of `files`)."""

    file_id: int
    path: str
    source: str
    size: int | None
    mtime: float | None
    byte_offset: int
    fingerprint: str | None
    lines: int


def path_key(path: Path | str) -> str:
    """How the vault names a file: its path, with bytes that are not UTF-8 escaped (`\\xff`).

    DuckDB stores only valid UTF-8; Python keeps such bytes as lone surrogates that it cannot cast.
    """
    return escape_name(str(path))


def escape_name(s: str) -> str:
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def fingerprint(path: Path, offset: int) -> str:
    """Hash of the first and last FINGERPRINT_SPAN bytes before `offset`: detects a rewrite."""
    h = hashlib.sha1(str(offset).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(min(offset, FINGERPRINT_SPAN)))
        if offset > FINGERPRINT_SPAN:
            fh.seek(max(FINGERPRINT_SPAN, offset - FINGERPRINT_SPAN))
            h.update(fh.read(offset - fh.tell()))
    return h.hexdigest()


def walk(paths: Iterable[Path]) -> Iterator[Path]:
    """Candidate files under `paths`: files with a known suffix, main session files before subagent folders.

    A path named directly is yielded whatever it is, and so is a folder that cannot be listed: the
    ingester reports what it cannot read (missing, a FIFO, a symlink loop, a folder) with the reason.
    """
    suffixes = candidate_suffixes()
    for root in paths:
        root = Path(root).expanduser()
        if not root.is_dir():
            yield root
            continue
        found: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: found.append(Path(e.filename))):
            dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
            for name in filenames:
                if name.endswith(IGNORED_NAMES):
                    continue
                if any(name.lower().endswith(s) for s in suffixes):
                    found.append(Path(dirpath) / name)
        # Main session files before their subagent folders, in a stable order.
        yield from sorted(found, key=lambda p: (len(p.parts), str(p)))


def folder_reason(path: Path) -> str:
    try:
        with os.scandir(path):
            return "a folder that could not be listed while walking it"
    except OSError as e:
        return f"cannot read folder: {e.strerror}"
