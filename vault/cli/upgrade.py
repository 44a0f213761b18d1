"""`vault migrate`: upgrade a vault written by an older version, the one step read-only commands ask for."""

from __future__ import annotations

import click

from vault.cli.common import emit_json, existing_db_path, json_option, open_db


@click.command("migrate")
@json_option
@click.pass_context
def migrate_cmd(ctx, as_json: bool) -> None:
    """Upgrade the vault to this version (a backup copy of it is kept first)."""
    from vault.store import backups, connect, needed_migrations, storage_version

    path = existing_db_path(ctx)
    todo = needed_migrations(path)  # (refuses a newer, damaged or foreign file, and says so)

    def storage() -> str | None:
        con = connect(path, read_only=True)
        try:
            found = storage_version(con)
        finally:
            con.close()
        return "v" + ".".join(map(str, found)) if found else None

    before, kept = storage(), set(backups(path))
    with open_db(ctx):  # a write open applies the migrations (after the backup copy) and rewrites an older format
        pass
    after, made = storage(), sorted(set(backups(path)) - kept)
    if as_json:
        emit_json({"db": str(path), "migrations": todo, "backup": str(made[-1]) if made else None,
                   "storage_format": {"before": before, "after": after}})
        return
    done = []
    if todo:
        done.append(f"{len(todo)} migration{'s' if len(todo) > 1 else ''} ({', '.join(todo)})")
    if before != after:
        done.append(f"file rewritten in storage format {after} (was {before})")
    if not done:
        click.echo(f"{path} is up to date: nothing to migrate")
        return
    click.echo(f"upgraded {path}: {'; '.join(done)}" + (f"; the previous version is kept in {made[-1]}" if made else ""))
