"""`vault tui`: the terminal app (tui.app.make_app) on the vault chosen by `vault --db`."""

from __future__ import annotations

import click


@click.command("tui")
@click.option("--db", "db", type=click.Path(dir_okay=False), default=None,
              help="The vault file (same as `vault --db`).")
@click.option("--read-only", is_flag=True, help="Never write (review actions are then disabled).")
@click.pass_context
def tui_cmd(ctx: click.Context, db: str | None, read_only: bool) -> None:
    """Browse, search and review in the terminal (press ? inside for the keys)."""
    from vault.cli.common import existing_db_path, settings
    from vault.store import VaultError

    from tui.app import make_app

    conf = settings(ctx, {"db": ("--db", db)})
    try:
        existing_db_path(ctx, conf)
        app = make_app(read_only=read_only or None, settings=conf)
    except VaultError as e:
        raise click.ClickException(str(e)) from None
    app.run()
    if app.return_code:
        ctx.exit(app.return_code)
