"""Helpers shared by the parsers of whole-document exports (ChatGPT, Claude.ai, Gemini legacy).

A whole document cannot be read from an offset: such parsers set `incremental = False`
and the engine re-reads the file when it changes. An export may sit inside its `.zip`;
`load_document` reads the matching JSON members there (or the file itself). A member is read
in chunks and refused once it expands past `member_limit` (the `ingest.max_member_mb` setting):
a small zip can claim, or really hold, gigabytes.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from vault.model import LineError, ParseResult
from vault.sources.base import HEAD_BYTES

# zipfile is imported by the functions that open a zip: the writer of every ingest imports this module (`member_limit`)
# and a Claude Code ingest opens no zip (~4 ms of CPU, about 1% of a one-session ingest).
if TYPE_CHECKING:
    import zipfile

# Default of the `ingest.max_member_mb` setting (vault/settings.py): parsing a JSON document costs
# several times its size in memory, so this bounds a run's RSS to a few GB.
DEFAULT_MAX_MEMBER_MB = 256
_MEMBER_LIMIT: ContextVar[int] = ContextVar("member_limit", default=DEFAULT_MAX_MEMBER_MB)
_CHUNK = 1 << 20


class DocumentError(Exception):
    """The file (or zip member) is not a complete JSON document: one clear error for the file.

    `line`: the file's line where its JSON breaks off, 1 and up; 0 where no line of the file says it (an empty
    document, one past the member limit, a zip member: the reason names the member and its line)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


def is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip"


def zip_members(path: Path, member: re.Pattern[str]) -> list[str]:
    """Names of the members of zip `path` that match `member` (by base name), in archive order."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return [n for n in zf.namelist() if member.fullmatch(n.rsplit("/", 1)[-1])]
    except (zipfile.BadZipFile, OSError):
        return []


def document_head(path: Path, head: bytes, member: re.Pattern[str]) -> bytes:
    """The first bytes of the document: the file's own head, or the first matching zip member's."""
    if not is_zip(path):
        return head
    import zipfile

    names = zip_members(path, member)
    if not names:
        return b""
    with zipfile.ZipFile(path) as zf, zf.open(names[0]) as fh:
        return fh.read(HEAD_BYTES)


def json_array_with_key(head: bytes, key: str) -> bool:
    """True when `head` starts a JSON array whose objects carry `key` (a real key: quotes inside strings are escaped)."""
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return body.startswith(b"[") and re.search(rb'"' + key.encode() + rb'"\s*:', body) is not None


def json_object_with_keys(head: bytes, keys: tuple[str, ...]) -> bool:
    """True when `head` starts one JSON object with every key of `keys` (a conversation saved alone, not in a list)."""
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return body.startswith(b"{") and all(re.search(rb'"' + k.encode() + rb'"\s*:', body) for k in keys)


def load_document(path: Path, member: re.Pattern[str]) -> Iterator[tuple[str, Any]]:
    """Yield (name, parsed JSON) for the file, or for each matching member of a zip; DocumentError if broken."""
    if not is_zip(path):
        yield path.name, _loads(path.read_bytes(), path.name, lines=True)
        return
    import zipfile

    names = zip_members(path, member)
    if not names:
        raise DocumentError(f"zip archive without a member named like {member.pattern}")
    with zipfile.ZipFile(path) as zf:
        for n in names:
            yield n, _loads(read_member(zf, n), n)


@contextlib.contextmanager
def member_limit(mb: int) -> Iterator[None]:
    """Within this block, an archive member may expand to at most `mb` MB."""
    token = _MEMBER_LIMIT.set(mb)
    try:
        yield
    finally:
        _MEMBER_LIMIT.reset(token)


def member_chunks(zf: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    """The bytes of member `name` in chunks of a MB; DocumentError once they pass the member limit.

    The size a member claims is checked first, and the bytes it really expands to as they come
    (a header can lie). A damaged member raises what zipfile and zlib raise (see `damaged_member`).
    """
    mb = _MEMBER_LIMIT.get()
    limit = mb << 20
    over = DocumentError(f"{name}: archive member expands to more than {mb} MB (the ingest.max_member_mb "
                         f"setting; raise it to read this export)")
    if zf.getinfo(name).file_size > limit:
        raise over
    seen = 0
    with zf.open(name) as fh:
        while chunk := fh.read(_CHUNK):
            seen += len(chunk)
            if seen > limit:
                raise over
            yield chunk


def read_member(zf: zipfile.ZipFile, name: str) -> bytearray:
    """The bytes of member `name` (`member_chunks`: DocumentError past the member limit)."""
    data = bytearray()  # orjson reads it as is: no second copy
    for chunk in member_chunks(zf, name):
        data += chunk
    return data


def damaged_member(zf: zipfile.ZipFile, base_name: str) -> str | None:
    """Why the first member of `zf` named `base_name` cannot be read (a failed CRC check, a broken deflate stream),
    or None (also for one past the member limit, said when it is read). Read through, nothing kept: a damaged
    export must not be called one without 'mapping'."""
    import zipfile
    import zlib

    name = next((n for n in zf.namelist() if n.rsplit("/", 1)[-1] == base_name), None)
    if name is None:
        return None
    try:
        for _ in member_chunks(zf, name):
            pass
    except DocumentError:
        return None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as e:
        return f"{name} cannot be read ({e})"
    return None


def read_companion(path: Path, name: str, res: ParseResult) -> Any:
    """A companion JSON file of an export (beside the file, or in the same zip), or None.

    One that cannot be used (over the member limit, not JSON) is reported in `res` (line 0): the
    conversations are read without it.
    """
    import zipfile

    try:
        if is_zip(path):
            names = zip_members(path, re.compile(re.escape(name)))
            if not names:
                return None
            with zipfile.ZipFile(path) as zf:
                return orjson.loads(read_member(zf, names[0]))
        side = path.with_name(name)
        return orjson.loads(side.read_bytes()) if side.is_file() else None
    except DocumentError as e:
        res.errors.append(LineError(0, f"{e}; read without it"))
    except orjson.JSONDecodeError as e:
        res.errors.append(LineError(0, f"{name}: invalid JSON ({e}); read without it"))
    except (OSError, zipfile.BadZipFile) as e:
        res.errors.append(LineError(0, f"{name}: cannot read ({e}); read without it"))
    return None


def _loads(data: bytes | bytearray, name: str, lines: bool = False) -> Any:
    """The JSON document `data`; DocumentError saying where it breaks off (`lines`: the error's `line` is the line of
    `data` there, the file being `data`)."""
    if not data or data.isspace():
        raise DocumentError(f"{name} is empty")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        # Cut inside a string or an escape, the parser stops a few bytes before the end: "end of data" says it.
        what = "truncated" if e.pos >= len(data.rstrip()) - 1 or "end of data" in e.msg else "invalid"
        raise DocumentError(f"{name}: {what} JSON document ({e})", e.lineno if lines else 0) from None


def parse_document(path: Path, member: re.Pattern[str], res: ParseResult) -> Iterator[tuple[str, Any]]:
    """`load_document`, with a broken document reported as one error in `res` instead of raised (at the line where
    its JSON breaks off, else line 0: the whole file)."""
    import zipfile

    try:
        size = path.stat().st_size
        yield from load_document(path, member)
        res.end_offset = size
    except DocumentError as e:
        res.errors.append(LineError(e.line, str(e)))
    except (OSError, zipfile.BadZipFile) as e:
        res.errors.append(LineError(0, f"cannot read: {e}"))


def document_items(path: Path, member: re.Pattern[str], res: ParseResult, what: str = "a JSON array",
                   single: Callable[[dict], bool] | None = None) -> Iterator[tuple[str, int, Any]]:
    """(member name, item number counted across members from 1, item) of each JSON array in the document;
    a member that is one object `single` accepts (one conversation saved alone, not an export list) is
    its only item; any other member that is no array is reported (line 0) and passed over."""
    item = 0
    for name, doc in parse_document(path, member, res):
        if single is not None and isinstance(doc, dict) and single(doc):
            doc = [doc]
        if not isinstance(doc, list):
            res.errors.append(LineError(0, f"{name}: expected {what}, got {type(doc).__name__}"))
            continue
        for obj in doc:
            item += 1
            yield name, item, obj


def text_of(value: Any) -> str:
    """A string field, else ''."""
    return value if isinstance(value, str) else ""


def str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def main_branch(parent: dict[str, str | None], tip: str | None) -> set[str]:
    """Ids on the path from `tip` up to its root (the branch a person kept)."""
    main: set[str] = set()
    node = tip
    while node is not None and node in parent and node not in main:
        main.add(node)
        node = parent[node]
    return main

