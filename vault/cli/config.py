"""`vault config`: every setting's effective value and where it came from (vault/settings.py)."""

from __future__ import annotations

import json

import click

from vault.cli.common import emit_json, json_option, settings


@click.command("config")
@json_option
@click.pass_context
def config_cmd(ctx, as_json: bool) -> None:
    """Show every setting: its value and where it comes from (default, config file, VAULT_* variable or flag).

    Also checks what only its users can (role rules, correction labels): a bad value is a one-line error.
    """
    from miner.analytics import correction_definition
    from miner.roles import load_rules

    conf = settings(ctx)
    load_rules(conf)
    correction_definition(conf)
    entries = conf.entries()
    if as_json:
        emit_json({"config_file": str(conf.config), "config_file_exists": conf.config.exists(), "settings": entries})
        return
    click.echo(f"config file: {conf.config}" + ("" if conf.config.exists() else " (absent: defaults apply)"))
    width = max(len(e["key"]) for e in entries)
    for e in entries:
        value = e["value"] if isinstance(e["value"], str) else json.dumps(e["value"], ensure_ascii=False)
        click.echo(f"{e['key']:<{width}} = {value}  # {e['from'] or 'default'}")  # a file, a VAULT_* or a --flag
    click.echo("Set one in the config file ([section] key), as VAULT_<SECTION>_<KEY>, or with a flag; "
               "README.md lists them all.")
