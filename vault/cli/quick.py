"""`vault search` in its common forms, parsed without click.

Importing click costs a cold search 15-20 ms of CPU (click itself, and inspect, uuid, gettext that it imports), about
a tenth of the command. So `vault [--db PATH] search [--mode MODE] [-n N | --limit N] [--json] WORDS...` (options
and words in any order after `search`, each option once) is parsed here and runs the command's own code
(`vault.cli.search.run_search`) with what click would have passed it; anything else (another option, `--help`, a word
that starts with `-`, a value click would refuse) returns False and goes through click as before, so an error is
worded by click. `tests/search/test_search_cli_quick.py` compares both parsers on every form this one takes, and the
outputs of both paths.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections import namedtuple

from vault.cli.common import LIMIT_RANGE

MODES = ("keyword", "semantic", "hybrid")  # search_cmds' --mode choices
DEFAULT_LIMIT = 20  # search_cmds' --limit default
_DIGITS = re.compile(r"[0-9]+")


# (db: str | None, words: tuple[str, ...], mode: str | None, limit: int, as_json: bool). collections.namedtuple: a
# typing.NamedTuple compiles each field's annotation at import, 1.5-2 ms of a cold search.
Parsed = namedtuple("Parsed", "db words mode limit as_json")


def parse(args: list[str]) -> Parsed | None:
    """What click would parse from `args` (the arguments after `vault`), or None for a form left to click."""
    db, i = None, 0
    while i < len(args) and args[i] != "search":  # the group's options: --db only
        name, eq, value = args[i].partition("=")
        if name != "--db" or db is not None:
            return None
        if not eq:
            if i + 1 >= len(args):
                return None
            i, value = i + 1, args[i + 1]
        if not value or value.startswith("-"):
            return None
        db, i = value, i + 1
    if i >= len(args):
        return None
    words: list[str] = []
    mode, limit, as_json = None, None, False
    rest, j = args[i + 1:], 0
    while j < len(rest):
        arg = rest[j]
        j += 1
        if not arg.startswith("-"):
            words.append(arg)
            continue
        name, eq, value = arg.partition("=")
        if name == "--json" and not eq and not as_json:
            as_json = True
            continue
        if name not in ("--mode", "--limit", "-n") or (eq and name == "-n"):
            return None
        if not eq:
            if j >= len(rest):
                return None
            value, j = rest[j], j + 1
        if name == "--mode":
            if mode is not None or value not in MODES:
                return None
            mode = value
        else:
            if limit is not None or not _DIGITS.fullmatch(value) or not LIMIT_RANGE[0] <= int(value) <= LIMIT_RANGE[1]:
                return None
            limit = int(value)
    if not words:
        return None
    return Parsed(db, tuple(words), mode, DEFAULT_LIMIT if limit is None else limit, as_json)


class _Root:
    """What the command's code asks of click's context: the root (`find_root()`) and its `obj`."""

    def __init__(self, obj) -> None:
        self.obj = obj

    def find_root(self) -> _Root:
        return self


def run(args: list[str]) -> bool:
    """Run `vault search` if `args` is one of the forms parsed here; False (nothing done) otherwise. A VaultError is
    raised as the command group raises it (click's error, exit code 2: vault.cli.group.LazyGroup.invoke)."""
    p = parse(args)
    if p is None:
        return False
    from vault.cli.common import CliState
    from vault.errors import VaultError
    from vault.lightquery import gc_deferred

    with gc_deferred(), lazy_binding():
        from vault.cli.search import run_search
        from vault.index.search import expand_kinds
    ctx = _Root(CliState({"db": ("--db", p.db), "config": ("--config", None)}))  # as the group's callback makes it
    try:
        run_search(ctx, p.words, p.mode, p.limit, None, None, None, None, None, expand_kinds(()), False, None,
                   p.as_json)
    except VaultError as e:
        import click

        err = click.ClickException(str(e))
        err.exit_code = 2
        raise err from None
    return True


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
