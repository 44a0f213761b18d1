"""A vault written by an older version, opened by a command that only reads (search, show, stats, sessions, turns,
`vault mcp`, `vault tui --read-only`): the file is left as it is, and one line says to run `vault migrate`, which
upgrades it after a backup copy (docs/vault-file.md, "Upgrades").

Read-only opens used to migrate in place: a `vault search` in a script rewrote tables and copied the whole file
to a backup, unasked, in a file another process may be reading from."""

from __future__ import annotations

import hashlib
import json
import pytest

from support import run_cli


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The first migration a vault of the previous release lacked (and every one after it, this release's included).
FIRST_NEW = "m015_label_text_hash"


@pytest.fixture
def old_vault(tmp_path, monkeypatch):
    """A vault as the release before m015 left it (made by that release's list of migrations)."""
    from vault import migrations, schema, store

    names = [n for n, _ in migrations.MIGRATIONS]
    path = tmp_path / "old.duckdb"
    with monkeypatch.context() as m:
        m.setattr(schema, "MIGRATIONS", migrations.MIGRATIONS[:names.index(FIRST_NEW)])
        store.open_vault(path).close()
    assert store.needed_migrations(path) == names[names.index(FIRST_NEW):]
    return path


def test_a_read_only_open_leaves_an_old_vault_as_it_is(old_vault):
    from vault.store import VaultNeedsMigrationError, needed_migrations, open_vault

    before = _digest(old_vault)
    with pytest.raises(VaultNeedsMigrationError, match="vault migrate"):
        open_vault(old_vault, read_only=True)
    assert _digest(old_vault) == before
    assert not list(old_vault.parent.glob(f"{old_vault.name}.bak-*"))
    assert needed_migrations(old_vault)


@pytest.mark.parametrize("args", [
    ("stats", "--json"), ("sessions",), ("show", "43dd531a"), ("search", "--mode", "keyword", "refunds"),
    ("turns", "--json"),
])
def test_read_only_commands_say_to_migrate_in_one_line(old_vault, args):
    before = _digest(old_vault)
    code, out, err = run_cli(*args, db=old_vault)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "needs upgrading" in lines[0] and "`vault migrate`" in lines[0], err
    assert _digest(old_vault) == before and not list(old_vault.parent.glob("*.bak-*"))


def test_vault_migrate_upgrades_after_a_backup_then_reads_work(old_vault):
    from vault import store

    todo = store.needed_migrations(old_vault)
    code, out, err = run_cli("migrate", "--json", db=old_vault)
    assert code == 0, err
    res = json.loads(out)
    (backup,) = old_vault.parent.glob(f"{old_vault.name}.bak-*")
    assert {k: res[k] for k in ("db", "migrations", "backup")} == {"db": str(old_vault), "migrations": todo,
                                                                    "backup": str(backup)}
    assert res["storage_format"]["after"] == "v" + store.STORAGE_VERSION.strip("v")
    code, out, err = run_cli("stats", "--json", db=old_vault)
    assert code == 0 and json.loads(out)["sessions"] == 0, err
    code, out, err = run_cli("migrate", db=old_vault)
    assert code == 0 and "up to date" in out
    assert len(list(old_vault.parent.glob(f"{old_vault.name}.bak-*"))) == 1


def test_a_writer_still_upgrades_by_itself(old_vault):
    from vault.store import needed_migrations

    (old_vault.parent / "nothing-new").mkdir()
    code, out, err = run_cli("ingest", "--no-embed", "--json", str(old_vault.parent / "nothing-new"), db=old_vault)
    assert code == 0, err
    assert needed_migrations(old_vault) == []
    assert len(list(old_vault.parent.glob(f"{old_vault.name}.bak-*"))) == 1


def test_the_tui_read_only_and_mcp_refuse_too(old_vault):
    from tui.access import VaultAccess
    from vault.errors import VaultError
    from vault.mcp_tools import VaultTools

    before = _digest(old_vault)
    with pytest.raises(VaultError, match="vault migrate"):
        VaultAccess(old_vault, read_only=True)
    tools = VaultTools(old_vault)
    try:
        with pytest.raises(VaultError, match="vault migrate"):
            tools.stats()
    finally:
        tools.close()
    assert _digest(old_vault) == before


def test_every_command_opens_the_vault_through_one_call(tmp_path, monkeypatch):
    """`vault ingest` into a new vault opens it twice (the keyword index is built in a new connection): both opens
    go through `vault.cli.common.connect_vault`, with the same lock wait."""
    from support import EXAMPLES
    from vault.cli import common

    opened = []
    real = common.connect_vault

    def spy(path, **kw):
        opened.append((path, kw))
        return real(path, **kw)

    monkeypatch.setattr(common, "connect_vault", spy)
    db = tmp_path / "new.duckdb"
    code, out, err = run_cli("ingest", "--no-embed", "--json", str(EXAMPLES / "claude-code"), db=db)
    assert code == 0, err
    assert [p for p, _ in opened] == [db, db]


def test_vault_migrate_also_rewrites_an_older_storage_format(examples_vault, tmp_path):
    """A vault whose schema is current but whose file is in DuckDB's older storage format: a reader reads it as it
    is; `vault migrate` is the writer that rewrites it (docs/storage.md)."""
    from support import write_in_storage

    db = tmp_path / "old-format.duckdb"
    write_in_storage(examples_vault, db, "v1.0.0")
    code, out, err = run_cli("stats", "--json", db=db)
    assert code == 0, err
    code, out, err = run_cli("migrate", "--json", db=db)
    assert code == 0, err
    res = json.loads(out)
    assert res["migrations"] == [] and res["storage_format"] == {"before": "v1.0.0", "after": "v1.5.0"}, res
    code, out, err = run_cli("migrate", db=db)
    assert code == 0 and "up to date" in out, out
