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

from vault.sources import CATCH_ALL, PARSERS, candidate_suffixes


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
    Paths stay strings until yielded: building Path objects cost more than the walk itself.
    """
    accepts = _SuffixTest()
    for root in paths:
        root = Path(root).expanduser()
        if not root.is_dir():
            yield root
            continue
        found: list[str] = []
        errors: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(str(root), onerror=lambda e: errors.append(Path(e.filename))):
            dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
            found += [os.path.join(dirpath, name) for name in filenames if accepts(name)]
        # Main session files before their subagent folders, in a stable order: by depth, then path (the
        # same order as Paths sorted by (len(parts), str), all of them sharing the root's prefix).
        found.sort(key=lambda p: (p.count(os.sep), p))
        if errors:
            yield from sorted([*errors, *map(Path, found)], key=lambda p: (len(p.parts), str(p)))
        else:
            yield from map(Path, found)


class _SuffixTest:
    """Whether a file name has a suffix some parser reads. The built-in parsers' suffixes answer most names;
    parsers registered by other packages (entry points, slow to list) are loaded only for another suffix."""

    def __init__(self) -> None:
        self.builtin = tuple({s for p in (*PARSERS, CATCH_ALL) for s in p.suffixes})
        self.all: tuple[str, ...] | None = None

    def __call__(self, name: str) -> bool:
        if name.endswith(IGNORED_NAMES):
            return False
        lower = name.lower()
        if lower.endswith(self.builtin):
            return True
        if self.all is None:
            self.all = tuple(candidate_suffixes())
        return lower.endswith(self.all)


def real_stat(path: Path, real_dirs: dict[str, str]) -> tuple[Path, os.stat_result]:
    """`path.resolve(strict=True)` and its `stat()`, raising as they do; `path` must be absolute.

    A file that is not a symlink costs one lstat: its real path is its folder's (resolved once per folder,
    remembered in `real_dirs`) and its name. Resolving each path walked 8 path components, one lstat each.
    """
    st = os.lstat(path)
    folder, name = os.path.split(str(path))
    if stat.S_ISLNK(st.st_mode) or not name:
        real = path.resolve(strict=True)
        return real, real.stat()
    real_folder = real_dirs.get(folder)
    if real_folder is None:
        real_folder = real_dirs[folder] = os.path.realpath(folder)
    return (path if real_folder == folder else Path(real_folder, name)), st


def folder_reason(path: Path) -> str:
    try:
        with os.scandir(path):
            return "a folder that could not be listed while walking it"
    except OSError as e:
        return f"cannot read folder: {e.strerror}"
