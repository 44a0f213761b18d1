"""`vault hooks install|uninstall|status`, the hook run behind `vault ingest --hook`, and `vault mcp`."""

from __future__ import annotations

from pathlib import Path

import click

from vault.cli.common import emit_json, esc, json_option, settings, stdout_console

config_dir_option = click.option(
    "--config-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Claude Code's config folder (default: $CLAUDE_CONFIG_DIR, else ~/.claude).")


@click.group("hooks")
def hooks_cmd() -> None:
    """Capture every Claude Code session as it ends (hooks in Claude Code's settings.json)."""


@hooks_cmd.command("install")
@config_dir_option
@click.option("--stop", is_flag=True, help="Also ingest after every answer (the Stop event), not only at "
                                           "SessionEnd and PreCompact.")
@json_option
@click.pass_context
def hooks_install(ctx, config_dir: Path | None, stop: bool, as_json: bool) -> None:
    """Add `vault ingest --hook` on SessionEnd and PreCompact (idempotent; a backup is kept)."""
    from vault.hooks.claude_settings import claude_settings_path
    from vault.hooks.command import hook_command
    from vault.hooks.install import EVENTS, OPTIONAL_EVENTS, install

    conf = settings(ctx)
    # The vault is baked in (the hook does not see this shell's VAULT_* variables, and then need not load
    # the settings to find it); a config file only when chosen by the environment or a flag.
    command = hook_command(conf.db, conf.config if conf.origin("config").kind in ("env", "flag") else None)
    path = claude_settings_path(config_dir)
    change = install(path, command, EVENTS + (OPTIONAL_EVENTS if stop else ()))
    if as_json:
        emit_json({"settings": str(path), "command": command, "added": change.added,
                   "already_installed": change.unchanged, "backup": change.backup})
        return
    c = stdout_console()
    if change.added:
        c.print(f"added to {esc(path)}: {', '.join(change.added)} -> [bold]{esc(command)}[/]")
        if change.backup:
            c.print(f"[dim]the original is kept in {esc(change.backup)}[/]")
    if change.unchanged:
        c.print(f"already installed: {', '.join(change.unchanged)}")


@hooks_cmd.command("uninstall")
@config_dir_option
@json_option
def hooks_uninstall(config_dir: Path | None, as_json: bool) -> None:
    """Remove exactly the hooks `vault hooks install` added."""
    from vault.hooks.claude_settings import claude_settings_path
    from vault.hooks.install import uninstall

    path = claude_settings_path(config_dir)
    change = uninstall(path)
    if as_json:
        emit_json({"settings": str(path), "removed": change.removed, "restored_original": change.restored})
        return
    c = stdout_console()
    if not change.removed:
        c.print(f"no vault hook in {esc(path)}")
    else:
        how = " (the original file is back, byte for byte)" if change.restored else ""
        c.print(f"removed from {esc(path)}: {', '.join(change.removed)}{how}")


@hooks_cmd.command("status")
@config_dir_option
@json_option
@click.pass_context
def hooks_status(ctx, config_dir: Path | None, as_json: bool) -> None:
    """Which hooks are installed, the vault each writes to, when each last ran, and what is pending."""
    from vault.hooks.claude_settings import claude_settings_path
    from vault.hooks.status import status

    st = status(claude_settings_path(config_dir), settings(ctx).db)
    if as_json:
        emit_json(st)
        return
    c = stdout_console()
    if not st["events"]:
        c.print(f"no vault hook installed in {esc(st['settings'])} (run `vault hooks install`)")
    for event, e in st["events"].items():
        last = e["last_run"]
        when = f"last ran {last['at']}: {esc(last['result'])} ({last['seconds']:.2f} s)" if last else "never ran yet"
        c.print(f"[bold]{event}[/]: {when}")
        c.print(f"  [dim]{esc(e['command'])}[/]" + (f" [yellow]({e['duplicates']} duplicate(s))[/]" if e["duplicates"] else ""))
    if st["pending"]:
        c.print(f"[yellow]{len(st['pending'])} transcript(s) pending[/] (the vault was busy); "
                "the next `vault ingest` takes them")


@click.command("mcp")
@click.pass_context
def mcp_cmd(ctx) -> None:
    """Serve the vault to MCP clients over stdio (Claude Code: `claude mcp add vault -- vault mcp`)."""
    from vault.mcp_server import serve

    conf = settings(ctx)
    serve(conf)
