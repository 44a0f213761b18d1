"""`vault search` and `vault ingest` in their common forms, parsed without click.

Importing click costs a cold search 15-20 ms of CPU (click itself, and inspect, uuid, gettext that it imports), about
a tenth of the command. So `vault [--db PATH] search [--mode MODE] [-n N | --limit N] [--json] WORDS...` (options
and words in any order after `search`, each option once) is parsed here and runs the command's own code
(`vault.cli.search.run_search`) with what click would have passed it; anything else (another option, `--help`, a word
that starts with `-`, a value click would refuse) returns False and goes through click as before, so an error is
worded by click. `tests/search/test_search_cli_quick.py` compares both parsers on every form this one takes, and the
outputs of both paths.

The same for `vault [--db PATH] ingest [--no-embed] [--json] [--hook] [--wait] [--hook-worker EVENT] [PATHS...]` (the
hook's worker and a one-session ingest, where click was ~18 ms of 0.5 s): `parse_ingest`, run by the command's code
(`vault.cli.ingest_run.run_ingest`); `tests/search/test_search_cli_quick.py` compares it with click's too.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections import namedtuple
from collections.abc import Iterator

from vault.cli.common import LIMIT_RANGE

MODES = ("keyword", "semantic", "hybrid")  # search_cmds' --mode choices
DEFAULT_LIMIT = 20  # search_cmds' --limit default
_DIGITS = re.compile(r"[0-9]+")


# (db: str | None, words: tuple[str, ...], mode: str | None, limit: int, as_json: bool). collections.namedtuple: a
# typing.NamedTuple compiles each field's annotation at import, 1.5-2 ms of a cold search.
Parsed = namedtuple("Parsed", "db words mode limit as_json")


def parse(args: list[str]) -> Parsed | None:
    """What click would parse from `args` (the arguments after `vault`), or None for a form left to click."""
    start = _group_options(args, "search")
    if start is None:
        return None
    db, i = start
    got = _command_options(args[i + 1:], flags={"--json": "as_json"}, valued={"--mode": "mode", "--limit": "limit",
                                                                             "-n": "limit"})
    if got is None:
        return None
    words, opts = got
    mode, limit = opts.get("mode"), opts.get("limit")
    if mode is not None and mode not in MODES:
        return None
    if limit is not None:
        if not _DIGITS.fullmatch(limit) or not LIMIT_RANGE[0] <= int(limit) <= LIMIT_RANGE[1]:
            return None
        limit = int(limit)
    if not words:
        return None
    return Parsed(db, tuple(words), mode, DEFAULT_LIMIT if limit is None else limit, bool(opts.get("as_json")))


def _group_options(args: list[str], command: str) -> tuple[str | None, int] | None:
    """The group's options before `command` (--db only, once, a value click's `click.Path(dir_okay=False)` takes) and
    where `command` is: (db, its index), or None for a form left to click."""
    db, i = None, 0
    while i < len(args) and args[i] != command:
        name, eq, value = args[i].partition("=")
        if name != "--db" or db is not None:
            return None
        if not eq:
            if i + 1 >= len(args):
                return None
            i, value = i + 1, args[i + 1]
        if not value or value.startswith("-") or not _click_path(value, dir_okay=False):
            return None
        db, i = value, i + 1
    if i >= len(args):
        return None
    return db, i


def _command_options(rest: list[str], flags: dict[str, str], valued: dict[str, str]
                     ) -> tuple[list[str], dict[str, str | bool]] | None:
    """A command's words and options (`flags`, `valued`: option -> its name), each option given once (a flag without
    `=`; a valued option as `--name VALUE` or `--name=VALUE`, a short one as `-n VALUE`), or None for anything else
    (another option, a word starting with `-`)."""
    words: list[str] = []
    opts: dict[str, str | bool] = {}
    j = 0
    while j < len(rest):
        arg = rest[j]
        j += 1
        if not arg.startswith("-"):
            words.append(arg)
            continue
        name, eq, value = arg.partition("=")
        if name in flags and not eq and flags[name] not in opts:
            opts[flags[name]] = True
            continue
        if name not in valued or valued[name] in opts or (eq and not name.startswith("--")):
            return None
        if not eq:
            if j >= len(rest):
                return None
            value, j = rest[j], j + 1
        opts[valued[name]] = value
    return words, opts


def _click_path(value: str, dir_okay: bool = True) -> bool:
    """Whether `click.Path(dir_okay=...)` (not `exists`) takes `value`: a path that exists must be readable, and a
    folder only if `dir_okay`."""
    import stat

    try:
        st = os.stat(value)
    except OSError:
        return True
    return (dir_okay or not stat.S_ISDIR(st.st_mode)) and os.access(value, os.R_OK)


# (db: str | None, paths: tuple[str, ...], no_embed, hook, wait: bool, hook_worker: str | None, as_json: bool);
# a collections.namedtuple as Parsed is, for the same reason.
Ingest = namedtuple("Ingest", "db paths no_embed hook wait hook_worker as_json")


def parse_ingest(args: list[str]) -> Ingest | None:
    """What click would parse from `args` for `vault ingest` (its `--source` and `--config` left to click), or None."""
    start = _group_options(args, "ingest")
    if start is None:
        return None
    db, i = start
    got = _command_options(args[i + 1:], flags={f"--{n.replace('_', '-')}": n for n in ("no_embed", "json", "hook",
                                                                                         "wait")},
                           valued={"--hook-worker": "hook_worker"})
    if got is None:
        return None
    paths, opts = got
    worker = opts.get("hook_worker")
    if worker is not None and (not worker or worker.startswith("-")):
        return None
    if not all(p and _click_path(p) for p in paths):
        return None
    return Ingest(db, tuple(paths), bool(opts.get("no_embed")), bool(opts.get("hook")), bool(opts.get("wait")),
                  worker, bool(opts.get("json")))


class _Root:
    """What the command's code asks of click's context: the root (`find_root()`) and its `obj`."""

    def __init__(self, obj) -> None:
        self.obj = obj

    def find_root(self) -> _Root:
        return self


def run(args: list[str]) -> bool:
    """Run `vault search` or `vault ingest` if `args` is one of the forms parsed here; False (nothing done) otherwise.
    A VaultError is raised as the command group raises it (click's error, exit code 2:
    vault.cli.group.LazyGroup.invoke)."""
    p = parse(args)
    if p is not None:
        _search(p)
        return True
    q = parse_ingest(args)
    if q is not None:
        _ingest(q)
        return True
    return False


def _search(p: Parsed) -> None:
    from vault.lightquery import gc_deferred

    with gc_deferred(), lazy_binding():
        from vault.cli.search import run_search
        from vault.index.search import expand_kinds
    with _as_the_group_does():
        run_search(_root(p.db), p.words, p.mode, p.limit, None, None, None, None, None, expand_kinds(()), False, None,
                   p.as_json)


def _ingest(q: Ingest) -> None:
    from pathlib import Path

    from vault.lightquery import gc_deferred

    with gc_deferred():
        from vault.cli.ingest_run import run_ingest
    # DuckDB, pyarrow and zstandard are loaded as the run needs them (the unchanged shortcut needs none): lazily bound,
    # ~10 ms of their ~75 ms of CPU. Not when embeddings may load a model (its libraries set their own flags).
    lazy = lazy_binding() if q.no_embed or q.hook or q.hook_worker else contextlib.nullcontext()
    with _as_the_group_does(), lazy:
        run_ingest(_root(q.db), tuple(Path(p) for p in q.paths), None, q.no_embed, q.hook, q.wait, q.hook_worker,
                   q.as_json)


def _root(db: str | None) -> _Root:
    """The context the command's code gets: as the group's callback makes it."""
    from vault.cli.common import CliState

    return _Root(CliState({"db": ("--db", db), "config": ("--config", None)}))


@contextlib.contextmanager
def _as_the_group_does() -> Iterator[None]:
    """A VaultError becomes click's error with exit code 2, as `vault.cli.group.LazyGroup.invoke` makes it."""
    from vault.errors import VaultError

    try:
        yield
    except VaultError as e:
        import click

        err = click.ClickException(str(e))
        err.exit_code = 2
        raise err from None


@contextlib.contextmanager
def lazy_binding():
    """Extension modules loaded in the block resolve their symbols when first called rather than all at load.

    Python loads them with RTLD_NOW: for DuckDB's 60 MB library that resolves every symbol up front, 8-10 ms of a cold
    search's 20-30 ms `import duckdb`, for functions a search mostly never calls. RTLD_LAZY defers each to its first
    call (a missing symbol would then fail at that call rather than at import: the pinned wheel has none)."""
    flags = sys.getdlopenflags()
    sys.setdlopenflags(flags & ~os.RTLD_NOW | os.RTLD_LAZY)
    try:
        yield
    finally:
        sys.setdlopenflags(flags)
