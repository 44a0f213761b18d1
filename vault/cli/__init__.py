"""The `vault` command line: a thin layer over the library.

Commands are imported lazily from the table below, so `vault --help` stays fast
and a command only pays for the heavy libraries it needs.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import sys

from vault.lightquery import gc_deferred, light_duckdb_import

with gc_deferred():  # (5 ms of CPU in all, with the command's own imports: see vault.lightquery)
    import click

light_duckdb_import()  # a command that opens the vault imports duckdb: without importlib.metadata (20 ms)

# name -> (module, attribute, short help). Modules are imported when the command runs.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "ingest": ("vault.cli.archive", "ingest_cmd", "Ingest transcripts and exports into the vault."),
    "stats": ("vault.cli.archive", "stats_cmd", "Counts per source; --corrections for correction rates."),
    "sessions": ("vault.cli.archive", "sessions_cmd", "List sessions (filters: --project, --source, --role, --since, --until, --subagents)."),
    "show": ("vault.cli.archive", "show_cmd", "Show one session as a readable conversation."),
    "embed": ("vault.cli.search", "embed_cmd", "Compute embeddings for new messages."),
    "search": ("vault.cli.search", "search_cmd", "Keyword, semantic or hybrid search."),
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


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        spec = COMMANDS.get(name)
        if spec is None:
            return None
        module, attr, help_text = spec
        extra = EXTRAS.get(name)
        missing = missing_requirements(extra) if extra else []
        if not missing:
            try:
                with gc_deferred():
                    return getattr(importlib.import_module(module), attr)
            except ModuleNotFoundError as e:
                # Only a module of an optional extra means "not installed"; anything else (our own modules,
                # a required dependency, a typo) is a bug or a broken installation to show as such.
                extra = extra_providing(e.name or "")
                if extra is None:
                    raise
                missing = [e.name]
        return _unavailable(name, help_text, missing, extra)

    def invoke(self, ctx: click.Context):
        from vault.errors import VaultError

        try:
            return super().invoke(ctx)
        except VaultError as e:  # a clear one-line error (file and line named by the raiser), exit code 2
            err = click.ClickException(str(e))
            err.exit_code = 2
            raise err from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(n, h) for n, (_, _, h) in COMMANDS.items()])


def optional_modules() -> dict[str, str]:
    """Top-level module -> the optional extra (`pip install 'vault[EXTRA]'`) whose requirements provide it."""
    import importlib.metadata

    try:
        reqs = importlib.metadata.requires("vault") or []
    except importlib.metadata.PackageNotFoundError:  # run from a source tree: no extras known
        return {}
    out: dict[str, str] = {}
    for r in reqs:
        m = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", r)
        if m and m.group(1) != "dev":
            dist = re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0]
            out.setdefault(dist.replace("-", "_").lower(), m.group(1))
    return out


def extra_providing(module: str) -> str | None:
    """The optional extra that provides `module` (a dotted name), or None when no extra does."""
    top = module.split(".")[0]
    return None if not top or top in OWN_PACKAGES else optional_modules().get(top)


def missing_requirements(extra: str) -> list[str]:
    """The modules of `extra`'s requirements that cannot be imported (found without importing them)."""
    import importlib.util

    missing = []
    for mod in (m for m, e in optional_modules().items() if e == extra):
        try:
            found = importlib.util.find_spec(mod) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(mod)
    return missing


def _unavailable(name: str, help_text: str, missing: list[str], extra: str) -> click.Command:
    """A stand-in command that says, in one line and whatever the arguments, what to install."""
    why = (f"`vault {name}` needs the optional `{extra}` dependencies (missing: {', '.join(missing)}). "
           f"Install them: pip install 'vault[{extra}]'")

    @click.command(name, help=help_text, add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def unavailable() -> None:
        raise click.ClickException(why)

    return unavailable


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db", type=click.Path(dir_okay=False), default=None,
              help="The vault file (default: VAULT_DB, else `db` in the config, else vault.duckdb in the data folder).")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="The config file (default: VAULT_CONFIG, else config.toml in the data folder).")
@click.option("--debug", is_flag=True, envvar="VAULT_DEBUG",
              help="Show the full traceback of an unexpected error (also VAULT_DEBUG=1).")
@click.version_option(package_name="vault", prog_name="vault")
@click.pass_context
def cli(ctx: click.Context, db: str | None, config: str | None, debug: bool) -> None:
    """vault: keep your AI-assistant sessions, search them, mine the corrections."""
    from vault.cli.common import CliState

    global _debug
    _debug = debug
    ctx.obj = CliState({"db": ("--db", db), "config": ("--config", config)})


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
    from vault.errors import VaultError

    try:
        cli.main(args=argv, prog_name="vault", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except VaultError as e:
        click.echo(f"vault: error: {e}", err=True)
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # a bug: one line for the person, the traceback with --debug
        if _debugging():
            raise
        where = ""
        tb = e.__traceback__
        while tb is not None:
            where = f" at {tb.tb_frame.f_code.co_filename.rsplit('/', 2)[-1]}:{tb.tb_lineno}"
            tb = tb.tb_next
        first = (str(e).strip().splitlines() or [""])[0][:300]
        click.echo(f"vault: internal error: {type(e).__name__}: {first}{where} "
                   "(a bug; rerun with --debug or VAULT_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)
