"""The `vault` command group (click): the commands of `vault.cli.COMMANDS`, imported when one runs."""

from __future__ import annotations

import importlib
import re

import click

from vault.cli import COMMANDS, EXTRAS, OWN_PACKAGES
from vault.lightquery import gc_deferred


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
    import vault.cli
    from vault.cli.common import CliState

    vault.cli._debug = debug  # read by vault.cli._debugging
    ctx.obj = CliState({"db": ("--db", db), "config": ("--config", config)})
