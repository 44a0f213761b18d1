"""Helpers shared by the CLI command modules: settings, opening the vault, JSON output, consoles."""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click

    from vault.settings import Settings

# Set when a command leaves a background load running that its answer no longer needs (search's model):
# `vault.cli.main` then ends the process at once instead of waiting for it.
abandon_threads_on_exit = False
# Set by a command that has written all its output and holds nothing (a search, the vault closed read-only):
# `vault.cli.main`, run as the program (`whole_process`), then skips the interpreter's teardown (15-17 ms of a
# cold search's CPU).
exit_at_once = False
# Set by `vault.cli.main` when the command is all the process runs (the `vault` program, not tests or a notebook that
# run several): a command may then keep modules it does not need unloaded for good (`vault ingest --no-embed`).
whole_process = False

# A count limit: at least 1, and a number SQL can take (`LIMIT`, a click type).
LIMIT_RANGE = (1, 10**9)


def __getattr__(name: str) -> Any:
    """`json_option` and `LIMIT`, click objects made when a command module first asks: this module is imported by
    `vault search` run without click (vault.cli.quick), which needs neither."""
    if name not in ("json_option", "LIMIT"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import click

    value = globals()[name] = (click.IntRange(*LIMIT_RANGE) if name == "LIMIT" else
                               click.option("--json", "as_json", is_flag=True, help="Print JSON (see CONTRACTS.md)."))
    return value


def when_option(name: str, help: str):
    """A --since/--until option: checked when read, so a typo is one line naming the accepted forms."""
    import click

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        from vault.when import BadTimeError, parse_when

        if value is not None:
            try:
                parse_when(value)
            except BadTimeError as e:
                # `--since 3 days ago` unquoted: the option got '3' and the query 'days ago'
                quote = (f" (a phrase needs quotes: {name} '{value} days ago')"
                         if value.strip().isdigit() else "")
                raise usage_error(f"{name}: {e}{quote}") from None
        return value

    return click.option(name, callback=check, help=help + " Also: today, yesterday, 7d, 2w, '3 days ago'.")


def paid_options(f):
    """--model/--batch/--yes/--max-cost, shared by the commands that can call Claude (mine, pairs, personas)."""
    import click

    for opt in reversed([
        click.option("--model", default=None, help="anthropic: the model."),
        click.option("--batch", is_flag=True, help="anthropic: use the Message Batches API (half price, slower)."),
        click.option("--yes", "-y", is_flag=True, help="anthropic: send without asking for confirmation."),
        click.option("--max-cost", type=float, default=None, help="anthropic: refuse above this estimated cost (USD)."),
    ]):
        f = opt(f)
    return f


def usage_error(message: str) -> click.ClickException:
    """A one-line error (no usage block) with the usage exit code."""
    import click

    err = click.ClickException(message)
    err.exit_code = 2
    return err


class CliState:
    """What the root group hands every command: its flags, and the settings loaded from them once.

    Loaded on first use, so `vault CMD --help` does not pay for reading them.
    """

    def __init__(self, flags: dict[str, tuple[str, Any]] | None = None) -> None:
        self.flags = flags or {}
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from vault.settings import load

            self._settings = load(self.flags)
        return self._settings

    @functools.cached_property
    def _quick(self) -> tuple[Path, str] | None:
        from vault.settings_light import quick_db_path

        return quick_db_path(self.flags)

    @property
    def all_default(self) -> bool:
        """Every setting but `db` has its default, known without loading the settings (vault.settings_light)."""
        return self._settings is None and self._quick is not None

    @property
    def db(self) -> Path:
        """The vault path; without loading the settings when nothing needs validating (vault.settings_light)."""
        if self._settings is None and self._quick is not None:
            return self._quick[0]
        return self.settings.db


def settings(ctx: click.Context, flags: dict[str, tuple[str, Any]] | None = None) -> Settings:
    """This run's settings, with the command's own `flags` applied ({"corrections.threshold": ("--threshold", v)})."""
    s = _state(ctx).settings
    return s.with_flags(flags) if flags else s


def all_default(ctx: click.Context) -> bool:
    """True when no setting but `db` can differ from its default: a command may then skip loading them."""
    return _state(ctx).all_default


def redactor(ctx: click.Context):
    """The vault.redact.Redactor of this run (the `[redact]` settings): for everything that leaves the vault."""
    from vault.redact import Redactor

    return Redactor.from_settings(settings(ctx))


def _state(ctx: click.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def db_path(ctx: click.Context) -> Path:
    return _state(ctx).db


LOCK_WAIT = 2.0  # seconds to wait for a short holder of the vault (`vault mcp`, the TUI) before giving up


def existing_db_path(ctx: click.Context, conf: Settings | None = None) -> Path:
    """The vault path, which must exist: only `vault ingest` creates a vault (a typo in --db must not)."""
    from vault.errors import VaultError

    path = conf.db if conf else db_path(ctx)
    if str(path) != ":memory:" and not path.expanduser().exists():
        conf = conf or settings(ctx)  # the error names where the path came from
        origin = conf.origin("db")
        where = "the default location" if origin.kind == "default" else f"from {origin}"
        raise VaultError(f"no vault at {path} ({where}): `vault ingest` creates one; "
                         "check --db, VAULT_DB or `db` in the config (`vault config`)")
    return path


# Read-only connections a command left for the process's end (`open_db(until_exit=True)`).
_left_open: list = []


@contextlib.contextmanager
def open_db(ctx: click.Context, *, read_only: bool = False, create: bool = False,
            appends: bool = False, until_exit: bool = False) -> Iterator[Any]:
    """A vault connection for the duration of a command (writers hold the lock only that long).

    Only `create=True` (ingest) makes a vault that does not exist yet; `appends`: see `vault.store.open_vault`.
    `until_exit`: a read-only connection of the `vault` program (`whole_process`) is not closed but left to the
    process's end (a search ends it at once: `exit_at_once`), as closing it costs ~5 ms of CPU that ending skips.
    """
    import duckdb

    from vault.store import VaultDamagedError

    path = db_path(ctx) if create else existing_db_path(ctx)
    con = connect_vault(path, read_only=read_only, appends=appends)
    try:
        yield con
    except duckdb.IOException as e:  # opened fine, but a block read later failed its checksum: damage
        raise VaultDamagedError(f"the vault {path} is damaged or unreadable: {str(e).splitlines()[0]}") from None
    finally:
        if any(c is con for c in _left_open):  # left to the process's end already (`end_with_process`)
            pass
        elif until_exit and read_only and whole_process:
            _left_open.append(con)
        else:
            con.close()


def end_with_process(con: Any, path: Path) -> bool:
    """Leave the writer `con`, whose vault `path` is settled (every commit checkpointed: no WAL, nothing written since),
    to the end of the `vault` program (`whole_process`), which then ends at once (`exit_at_once`): closing it cost a
    one-session ingest 10-30 ms of CPU (DuckDB freeing the blocks it read), and the interpreter's teardown 15-17 ms
    more. Ending there is a kill after the last checkpoint (tests/robustness/test_crash_appends.py, `recorded`): the
    file holds everything and the lock goes with the process. Not with a WAL or DuckDB's temporary files beside the
    vault (its close removes them). Returns whether it was left."""
    global exit_at_once
    if not whole_process or os.path.exists(f"{path}.wal") or os.path.exists(f"{path}.tmp"):
        return False
    _left_open.append(con)
    exit_at_once = True
    return True


def connect_vault(path: Path, *, read_only: bool = False, appends: bool = False):
    """A connection to the vault at `path` as every command opens it (`open_db`, and a command that opens it again):
    waiting up to LOCK_WAIT for a short holder; the caller closes it."""
    from vault.store import open_vault_waiting

    return open_vault_waiting(path, read_only=read_only, wait=LOCK_WAIT, appends=appends)


def _default(o: Any) -> Any:
    if isinstance(o, (_dt.datetime, _dt.date)):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    return str(o)


def emit_json(obj: Any) -> None:
    import json  # (here: a search printing text needs none)

    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=_default) + "\n")


def emit_jsonl(rows) -> None:
    import json

    w = sys.stdout.write
    for r in rows:
        w(json.dumps(r, ensure_ascii=False, default=_default) + "\n")


def esc(value: Any) -> str:
    """`value` (data from the vault or from a file: a project, a title, a role, a path, a message) as literal text in a
    rich markup string or a Table cell (a str cell is markup too): "[bold]notes" keeps its brackets, and "[/x]" or
    "[/]" cannot raise rich's MarkupError. The one escape of the CLI's output (`str(value)`, escaped)."""
    from rich.markup import escape

    return escape(str(value))


def stdout_console():
    from rich.console import Console

    return Console()


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def confirm_paid_plan(as_json: bool):
    """confirm(plan) for a paid backend: says what will be sent and what it costs, then asks.

    Without a terminal to ask on (or with --json) nothing is sent unless --yes was given.
    """

    def confirm(plan) -> bool:
        err = stderr_console()
        err.print(f"{esc(plan.describe())}.\nTexts are redacted (secrets, e-mails, phone numbers, IP addresses, home paths, "
                  "user names) before sending (docs/privacy.md).")
        if as_json or not sys.stdin.isatty():
            err.print("[red]Not confirmed: pass --yes to send without asking.[/]")
            return False
        import click

        return click.confirm("Send?", default=False, err=True)

    return confirm
