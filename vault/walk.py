"""Walking the paths named to `vault ingest`, and what the vault knows of each file to tell what changed.

A file is named by its path (`path_key`); a change is told by size, mtime and a fingerprint of the bytes
before the stored offset (a rewrite changes it, an append does not).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple


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


def sha1(data: bytes = b""):
    """hashlib.sha1 (the same digests) without loading OpenSSL: CPython's own `_sha1` when it has one. `import hashlib`
    loads `_hashlib` (OpenSSL: 2-3 ms idle, 10 ms at load 8) for the fingerprint of a file read and Claude Code's
    queued-prompt ids: one of the imports of a one-session ingest (`python -X importtime`: 2.45 ms against 0.18)."""
    global _SHA1
    if _SHA1 is None:
        try:
            from _sha1 import sha1 as _SHA1
        except ImportError:  # (a Python built without it)
            from hashlib import sha1 as _SHA1
    return _SHA1(data)


_SHA1 = None


def fingerprint(path: Path, offset: int) -> str:
    """Hash of the first and last FINGERPRINT_SPAN bytes before `offset`: detects a rewrite."""
    h = sha1(str(offset).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(min(offset, FINGERPRINT_SPAN)))
        if offset > FINGERPRINT_SPAN:
            fh.seek(max(FINGERPRINT_SPAN, offset - FINGERPRINT_SPAN))
            h.update(fh.read(offset - fh.tell()))
    return h.hexdigest()


def walk(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Candidate files under `paths`: files with a known suffix, main session files before subagent folders.

    A path named directly is yielded whatever it is, and so is a folder that cannot be listed: the
    ingester reports what it cannot read (missing, a FIFO, a symlink loop, a folder) with the reason.
    """
    return map(Path, walk_names(paths))


def walk_names(paths: Iterable[Path | str], suffixes: tuple[str, ...] | None = None) -> Iterator[str]:
    """`walk`, as strings: what `vault ingest` walks. Building a Path per file (3 us each) cost an unchanged re-ingest
    of 1,508 files more than comparing them with the vault (`Ingester.ingest_files` takes strings).

    `suffixes`: the built-in parsers' (`builtin_suffixes()`), when the caller has them: the parsers are not loaded."""
    accepts = _SuffixTest(suffixes)
    for root in paths:
        root = str(Path(root).expanduser())  # normalised as before: found paths are the strings os.walk made
        if not os.path.isdir(root):
            yield root
            continue
        found, errors = _scan(root, accepts)
        # Main session files before their subagent folders, in a stable order: by depth, then path (the
        # same order as Paths sorted by (len(parts), str), all of them sharing the root's prefix).
        found.sort(key=_depth_then_path)
        yield from sorted([*errors, *found], key=_depth_then_path) if errors else found


def _depth_then_path(p: str) -> tuple[int, str]:
    return p.count(os.sep), p


def _scan(root: str, accepts: _SuffixTest) -> tuple[list[str], list[str]]:
    """(candidate files, folders that could not be listed) under `root`: what `os.walk(root)` (topdown, symlinked
    folders listed but not entered, IGNORED_DIRS skipped) finds, a scandir per folder. os.walk also lstat()s every
    folder to tell a symlink, which the folder's entry already says (its d_type): 929 system calls on the 1 GB
    archive, and a generator per level."""
    found: list[str] = []
    errors: list[str] = []
    todo = [root]
    join = os.path.join
    while todo:
        top = todo.pop()
        try:
            it = os.scandir(top)
        except OSError as e:
            errors.append(e.filename if e.filename is not None else top)
            continue
        files: list[str] = []
        dirs: list[str] = []
        with it:
            try:
                for entry in it:
                    try:
                        is_dir = entry.is_dir()  # a symlink to a folder too, as os.walk: listed, not entered
                    except OSError:
                        is_dir = False
                    if not is_dir:
                        files.append(entry.name)
                    elif entry.name not in IGNORED_DIRS and not entry.is_symlink():
                        dirs.append(entry.name)
            except OSError as e:  # as os.walk: the folder's entries are dropped, the error reported
                errors.append(e.filename if e.filename is not None else top)
                continue
        found += [join(top, name) for name in files if accepts(name)]
        todo += [join(top, name) for name in dirs]
    return found, errors


class _SuffixTest:
    """Whether a file name has a suffix some parser reads. The built-in parsers' suffixes answer most names;
    parsers registered by other packages (entry points, slow to list) are loaded only for another suffix."""

    def __init__(self, builtin: tuple[str, ...] | None = None) -> None:
        self.builtin = builtin_suffixes() if builtin is None else builtin
        self.all: tuple[str, ...] | None = None

    def __call__(self, name: str) -> bool:
        if name.endswith(IGNORED_NAMES):
            return False
        lower = name.lower()
        if lower.endswith(self.builtin):
            return True
        if self.all is None:
            from vault.sources import candidate_suffixes

            self.all = tuple(candidate_suffixes())
        return lower.endswith(self.all)


def builtin_suffixes() -> tuple[str, ...]:
    """The suffixes the built-in parsers read, sorted (their modules are not imported: `vault.sources.BUILTIN`)."""
    from vault import sources

    return tuple(sorted(sources.builtin_suffixes()))


def real_stat(path: Path | str, real_dirs: dict[str, str]) -> tuple[str, os.stat_result]:
    """`path.resolve(strict=True)` (as a string) and its `stat()`, raising as they do; `path` must be absolute.

    A file that is not a symlink costs one lstat: its real path is its folder's (`real_folder`, remembered in
    `real_dirs`) and its name. Resolving each path walked 8 path components, one lstat each.
    """
    st = os.lstat(path)
    folder, name = os.path.split(path)
    if stat.S_ISLNK(st.st_mode) or not name:
        real = Path(path).resolve(strict=True)
        return str(real), real.stat()
    real = real_dirs.get(folder) or real_folder(folder, real_dirs)
    return (os.fspath(path) if real == folder else os.path.join(real, name)), st


def real_folder(folder: str, real_dirs: dict[str, str]) -> str:
    """`os.path.realpath(folder)` (absolute, normalised), remembered in `real_dirs`: a folder that is not a symlink is
    its parent's real path and its name, so each folder costs one lstat, not one per component of its path (an
    unchanged re-ingest resolved 522 folders of the 1 GB archive, 8 components each)."""
    real = real_dirs.get(folder)
    if real is None:
        parent, name = os.path.split(folder)
        if not name or parent == folder or stat.S_ISLNK(os.lstat(folder).st_mode):
            real = os.path.realpath(folder)
        else:
            real = os.path.join(real_folder(parent, real_dirs), name)
        real_dirs[folder] = real
    return real


def folder_reason(path: Path | str) -> str:
    try:
        with os.scandir(path):
            return "a folder that could not be listed while walking it"
    except OSError as e:
        return f"cannot read folder: {e.strerror}"
