"""The `vault` command line: a thin layer over the library.

Commands are imported lazily from the table below, so `vault --help` stays fast
and a command only pays for the heavy libraries it needs. The command group itself (click) is
`vault.cli.group`, imported when a command is parsed by click: the common forms of `vault search` and
`vault ingest` are parsed without it (`vault.cli.quick`).
"""

from __future__ import annotations

import contextlib
import sys

from vault.lightquery import light_duckdb_import

light_duckdb_import()  # a command that opens the vault imports duckdb: without importlib.metadata (20 ms)

# name -> (module, attribute, short help). Modules are imported when the command runs.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "ingest": ("vault.cli.archive", "ingest_cmd", "Ingest transcripts and exports into the vault."),
    "stats": ("vault.cli.archive", "stats_cmd", "Counts per source; --corrections for correction rates."),
    "sessions": ("vault.cli.archive", "sessions_cmd", "List sessions (filters: --project, --source, --role, --since, --until, --subagents)."),
    "show": ("vault.cli.archive", "show_cmd", "Show one session as a readable conversation."),
    "embed": ("vault.cli.search_cmds", "embed_cmd", "Compute embeddings for new messages."),
    "search": ("vault.cli.search_cmds", "search_cmd", "Keyword, semantic or hybrid search."),
    "mine": ("vault.cli.mining", "mine_cmd", "Classify every human turn; find the corrections."),
    "turns": ("vault.cli.mining", "turns_cmd", "Print labelled human turns (JSONL with --json)."),
    "eval": ("vault.cli.mining", "eval_cmd", "Measure the miner against hand labels."),
    "roles": ("vault.cli.roles", "roles_cmd", "Show role rules and the sessions per role."),
    "pairs": ("vault.cli.datasets", "pairs_cmd", "Print mined preference pairs."),
    "personas": ("vault.cli.datasets", "personas_cmd", "Show or write per-role personas."),
    "export": ("vault.cli.datasets", "export_cmd", "Export preference datasets (TRL, LLaMA-Factory, ...)."),
    "train": ("trainer.cli", "train", "Train a persona-DPO LoRA adapter (needs the [train] extra)."),
    "tui": ("tui.cli", "tui_cmd", "Browse, search and review in the terminal."),
    "migrate": ("vault.cli.upgrade", "migrate_cmd", "Upgrade a vault written by an older version (after a backup copy)."),
    "config": ("vault.cli.config", "config_cmd", "Show every setting, its value and where it comes from."),
    "hooks": ("vault.cli.loop", "hooks_cmd", "Install Claude Code hooks that ingest each session as it ends."),
    "mcp": ("vault.cli.loop", "mcp_cmd", "Serve the vault to assistants over MCP (stdio)."),
}
# Commands that need an optional extra (`pip install 'vault[EXTRA]'`), checked before their module loads.
EXTRAS = {"train": "train"}
OWN_PACKAGES = ("vault", "miner", "tui", "trainer")


# Set by --debug; VAULT_DEBUG is also read directly, for errors raised before the options are parsed.
_debug = False


def _debugging() -> bool:
    import os

    return _debug or os.environ.get("VAULT_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def _exit_now(exc: BaseException | None) -> None:
    """End the `vault` program at once, without the interpreter's teardown, when the command asked for it:
    `abandon_threads_on_exit` (a search left a model load running that nobody will use: the teardown would wait
    for it, or crash in it) or `exit_at_once` (a search, its output written and the vault closed: freeing every
    module, DuckDB's among them, costs a cold search 15-17 ms of CPU, a tenth of it). `exc`: how the command ended
    (None: it returned; a SystemExit carries the code), shown and coded as the usual exit would. Only run as the
    program (`whole_process`): a caller passing `argv` always gets control back.

    The output is flushed first. A reader that went away (a closed pipe) wanted no more: the code stays. Any other
    failed flush lost output the command had written: said on stderr, and never exit code 0."""
    import os

    common = sys.modules.get("vault.cli.common")
    if common is None or not common.whole_process or not (common.abandon_threads_on_exit or common.exit_at_once):
        return
    code = 0
    if isinstance(exc, SystemExit):
        if isinstance(exc.code, int) or exc.code is None:
            code = exc.code or 0
        else:  # sys.exit("message"): printed, code 1, as the interpreter does
            print(exc.code, file=sys.stderr)
            code = 1
    elif exc is not None:  # only with --debug does an exception get here: its traceback, as the interpreter shows it
        import traceback

        traceback.print_exception(exc)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            pass
        except (OSError, ValueError) as e:  # e.g. a full disk under `> file`: the output is incomplete
            code = code or 1
            with contextlib.suppress(Exception):
                os.write(2, f"vault: error: could not write the output: {e}\n".encode())
    os._exit(code)


def main(argv: list[str] | None = None) -> None:
    """The `vault` program (`argv`: the arguments, default sys.argv). Run as the program (no `argv`), a command
    that asked for it ends the process at once (`_exit_now`); a caller passing `argv` (a test, a script) always
    gets control back."""
    global _debug
    _debug = False  # per run: a process that runs several commands (tests, notebooks) must not keep it
    from vault.cli import common

    common.whole_process = argv is None  # the `vault` program: argv from the command line
    common.exit_at_once = False
    common.abandon_threads_on_exit = False
    try:
        _run(argv)
    except BaseException as e:
        _exit_now(e)
        raise
    _exit_now(None)


def _run(argv: list[str] | None) -> None:
    """Run one command; an error becomes one line on stderr and an exit code (SystemExit)."""
    from vault.errors import VaultError, is_interrupt

    try:
        _dispatch(argv)
    except KeyboardInterrupt:
        _interrupted()
    except Exception as e:
        if is_interrupt(e):  # Ctrl-C while DuckDB ran a query: RuntimeError('Query interrupted')
            _interrupted()
        click = sys.modules.get("click")  # loaded if a click exception can be here (vault.cli.quick may not load it)
        if click is not None and isinstance(e, click.exceptions.Abort):
            _say("Aborted.")
            sys.exit(130)
        if click is not None and isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, VaultError):
            _say(f"vault: error: {e}")
            sys.exit(2)
        if isinstance(e, BrokenPipeError):
            sys.exit(0)
        if _environmental(e) and not _debugging():  # the machine's answer about a path, not a bug of ours
            _say(f"vault: error: {e.filename}: {e.strerror}")
            sys.exit(1)
        # a bug: one line for the person, the traceback with --debug
        if _debugging():
            raise
        where = ""
        tb = e.__traceback__
        while tb is not None:
            where = f" at {tb.tb_frame.f_code.co_filename.rsplit('/', 2)[-1]}:{tb.tb_lineno}"
            tb = tb.tb_next
        first = (str(e).strip().splitlines() or [""])[0][:300]
        _say(f"vault: internal error: {type(e).__name__}: {first}{where} "
             "(a bug; rerun with --debug or VAULT_DEBUG=1 for the traceback)")
        sys.exit(1)


def _interrupted() -> None:
    """Ctrl-C: one line, exit 130 (a shell's code for SIGINT); a traceback or "internal error … a bug" before. What
    a writer committed stays; an interrupted ingest is finished by the next one (docs/vault-file.md)."""
    _say("vault: interrupted")
    sys.exit(130)


# What the system answers about a path the user named or must fix (a folder one may not write, a full disk, a
# read-only file system): said as one line naming the path, not dressed as an internal error.
_ENVIRONMENTAL = ("EACCES", "EPERM", "ENOENT", "ENOTDIR", "EISDIR", "ENOSPC", "EROFS", "EDQUOT", "ELOOP",
                  "ENAMETOOLONG", "EEXIST")


def _environmental(e: BaseException) -> bool:
    import errno

    return (isinstance(e, OSError) and e.filename is not None and bool(e.strerror)
            and errno.errorcode.get(e.errno or 0) in _ENVIRONMENTAL)


def _say(line: str) -> None:
    """One line on stderr, through click's echo when click is loaded (as it always was), else print."""
    click = sys.modules.get("click")
    if click is not None:
        click.echo(line, err=True)
    else:
        print(line, file=sys.stderr, flush=True)


def _dispatch(argv: list[str] | None) -> None:
    """`vault search` and `vault ingest` in their common forms without click (vault.cli.quick), anything else through
    the group."""
    from vault.cli import quick

    if quick.run(sys.argv[1:] if argv is None else list(argv)):
        return
    from vault.lightquery import gc_deferred

    with gc_deferred():  # (5 ms of CPU in all, with the command's own imports: see vault.lightquery)
        from vault.cli.group import cli

    cli.main(args=argv, prog_name="vault", standalone_mode=False)


# The click objects of vault.cli.group, as `vault.cli.cli` etc. (importing click when first asked).
_GROUP_NAMES = ("cli", "LazyGroup", "optional_modules", "extra_providing", "missing_requirements", "_unavailable")


def __getattr__(name: str):
    if name not in _GROUP_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from vault.cli import group

    return getattr(group, name)
